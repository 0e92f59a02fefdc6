"""The report's sections, one module each; every function returns Markdown lines."""
