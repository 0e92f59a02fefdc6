"""Keep API keys out of a report, always, and hostnames and IP addresses out of it on request.

A report is rendered from documents written by other tools, so a key can hide anywhere: in a
URL's userinfo, a curl command's header, an ``--api-key`` argument, an options member. The
:class:`Redactor` therefore works in two passes over every input document before anything is
rendered: :meth:`Redactor.learn` harvests the secrets (and hosts) that such places reveal, then
:meth:`Redactor.scrub` replaces them everywhere, including in free text where no pattern would
find them. Hosts map to stable placeholders (``host-1``, ``ip-1``) in order of first sight, so the
same host reads the same across documents and a reader can still tell "same machine" apart.
Loopback addresses are kept: they name no machine, and they show that a server ran locally.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Iterable, Mapping
from itertools import pairwise
from typing import Any, Final
from urllib.parse import quote

__all__ = ["REDACTED", "Redactor", "secrets_from_environment"]

REDACTED: Final = "***"
SECRET_ENV_VARS: Final = ("TTS_API_KEY", "OPENAI_API_KEY", "WHISPER_API_KEY", "VOICEBOX_API_KEY")
_LOOPBACK_NAMES: Final = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})
_HOST_FIELDS: Final = frozenset({"hostname", "host", "node", "server_host", "client_host"})

_SECRET_FIELD = re.compile(
    r"(?i)^(?:x[-_])?(?:[a-z]+[-_])*(?:api[-_]?key|apikey|token|secret|password|passwd|"
    r"authorization|cookie)$"
)
_SECRET_OPTION = re.compile(r"(?i)^--?[\w-]*(?:api[-_]?key|token|secret|password|passwd)$")
_URL = re.compile(
    r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^@/\s'\"<>]*@)?"
    r"(?P<host>\[[0-9A-Fa-f:.]+\]|[^:/\s'\"<>?#\[\]]+)"
)
_IN_TEXT: Final = (
    # X-API-Key: value, Authorization: Bearer value (curl -H, log lines, header dumps)
    re.compile(
        r"(?i)(?P<lead>\b(?:x-api-key|api-key|authorization|proxy-authorization|cookie)"
        r"\s*[:=]\s*(?:(?:bearer|basic|token)\s+)?)(?P<value>[^\s'\"\\,;]+)"
    ),
    # --api-key value, --provider-api-key=value
    re.compile(
        r"(?i)(?P<lead>(?<![\w-])--?[\w-]*(?:api[-_]?key|token|secret|password|passwd)(?:=|\s+))"
        r"(?P<value>[^\s'\"]+)"
    ),
    # ?api_key=value&...
    re.compile(
        r"(?i)(?P<lead>[?&](?:api[-_]?key|apikey|key|token|access_token|secret)=)"
        r"(?P<value>[^&\s'\"#]+)"
    ),
    # "api_key": "value" inside a JSON or Python dump
    re.compile(
        r"(?i)(?P<lead>[\"']?(?:x-)?(?:api[-_]?key|token|secret|password)[\"']?\s*[:=]\s*[\"'])"
        r"(?P<value>[^\"']+)"
    ),
)
_PLACEHOLDER = re.compile(r"^(?:<[\w-]*>?|\{[\w-]*\}?|\$\{?[A-Z_][A-Z0-9_]*\}?)$")
_IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w]|\.\d)")
_IPV6 = re.compile(r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])")


def secrets_from_environment(environ: Mapping[str, str] | None = None) -> list[str]:
    """The keys the kit's tools read from the environment: the ones most likely to leak."""
    env = os.environ if environ is None else environ
    return [env[name] for name in SECRET_ENV_VARS if env.get(name)]


def _worth_harvesting(value: str) -> bool:
    """Whether a value found in a secret's place is replaced everywhere, not only there.

    Short plain words ("missing", "wrong") would otherwise blank out ordinary report text.
    """
    if value in {REDACTED, "<redacted>", "null", "None"} or len(value) < 8:
        return False
    return len(value) >= 16 or not value.isalpha()


class Redactor:
    """Harvests secrets and hosts from documents, then scrubs them out of any text or tree."""

    def __init__(self, *, secrets: Iterable[str] = (), redact_hosts: bool = False) -> None:
        self.redact_hosts = redact_hosts
        self._secrets: set[str] = set()
        self._hosts: dict[str, str] = {}
        self._counters = {"host": 0, "ip": 0}
        self._secret_pattern: re.Pattern[str] | None = None
        self._host_pattern: re.Pattern[str] | None = None
        for secret in secrets:
            self.add_secret(secret, force=True)

    # --- Learning ---------------------------------------------------------------------------

    def add_secret(self, value: str, *, force: bool = False) -> None:
        value = value.strip()
        if not value or value == REDACTED or not (force or _worth_harvesting(value)):
            return
        for variant in {value, quote(value, safe=""), quote(value, safe="/:")}:
            self._secrets.add(variant)
        self._secret_pattern = None

    def add_host(self, host: str) -> None:
        name = host.strip().strip("[]").rstrip(".").lower()
        if not name or name in self._hosts or _is_local(name):
            return
        kind = "ip" if _is_ip(name) else "host"
        self._counters[kind] += 1
        self._hosts[name] = f"{kind}-{self._counters[kind]}"
        self._host_pattern = None

    def learn(self, tree: Any) -> None:
        """Harvest every secret (and, when redacting hosts, every host) ``tree`` reveals."""
        if isinstance(tree, Mapping):
            for key, value in tree.items():
                self._learn_member(str(key), value)
        elif isinstance(tree, list | tuple):
            self._learn_argv(tree)
            for item in tree:
                self.learn(item)
        elif isinstance(tree, str):
            self._learn_text(tree)

    def _learn_member(self, key: str, value: Any) -> None:
        self._learn_text(key)
        if isinstance(value, str) and _SECRET_FIELD.match(key):
            self.add_secret(value.removeprefix("Bearer ").removeprefix("bearer "), force=True)
        is_host = self.redact_hosts and key.lower() in _HOST_FIELDS
        if isinstance(value, str) and is_host and "://" not in value:
            self.add_host(value.rsplit(":", 1)[0] if value.count(":") == 1 else value)
        self.learn(value)

    def _learn_argv(self, items: list[Any] | tuple[Any, ...]) -> None:
        for flag, value in pairwise(items):
            if isinstance(flag, str) and isinstance(value, str) and _SECRET_OPTION.match(flag):
                self.add_secret(value, force=True)

    def _learn_text(self, text: str) -> None:
        for pattern in _IN_TEXT:
            for match in pattern.finditer(text):
                self.add_secret(match["value"])
        for match in _URL.finditer(text):
            if match["userinfo"]:
                userinfo = match["userinfo"][:-1]
                self.add_secret(userinfo, force=True)
                for part in userinfo.split(":"):
                    self.add_secret(part)
            if self.redact_hosts:
                self.add_host(match["host"])
        if self.redact_hosts:
            for ip in (*_IPV4.findall(text), *_IPV6.findall(text)):
                if _is_ip(ip):
                    self.add_host(ip)

    # --- Scrubbing --------------------------------------------------------------------------

    def scrub(self, tree: Any) -> Any:
        """A copy of a JSON-like tree with secrets (and hosts) replaced, keys included."""
        if isinstance(tree, Mapping):
            return dict(self._scrub_member(str(k), v) for k, v in tree.items())
        if isinstance(tree, list | tuple):
            return self._scrub_list(list(tree))
        if isinstance(tree, str):
            return self.text(tree)
        return tree

    def _scrub_member(self, key: str, value: Any) -> tuple[str, Any]:
        if isinstance(value, str) and value and _SECRET_FIELD.match(key):
            return self.text(key), REDACTED
        return self.text(key), self.scrub(value)

    def _scrub_list(self, items: list[Any]) -> list[Any]:
        scrubbed = [self.scrub(item) for item in items]
        for index, flag in enumerate(items[:-1]):
            if isinstance(flag, str) and _SECRET_OPTION.match(flag):
                scrubbed[index + 1] = REDACTED
        return scrubbed

    def text(self, text: str) -> str:
        """``text`` with every secret, and every host when asked, replaced."""
        for pattern in _IN_TEXT:
            text = pattern.sub(_keep_lead, text)
        text = _URL.sub(self._scrub_url, text)
        secrets = self._secrets_regex()
        if secrets is not None:
            text = secrets.sub(REDACTED, text)
        return self._scrub_hosts(text) if self._hosts else text

    def text_secrets_only(self, text: str) -> str:
        """``text`` with the known secrets replaced; no pattern rewrites (for finished prose)."""
        secrets = self._secrets_regex()
        return secrets.sub(REDACTED, text) if secrets is not None else text

    def _scrub_url(self, match: re.Match[str]) -> str:
        userinfo = f"{REDACTED}@" if match["userinfo"] else ""
        host = match["host"]
        placeholder = self._hosts.get(host.strip("[]").rstrip(".").lower())
        return f"{match['scheme']}{userinfo}{placeholder or host}"

    def _scrub_hosts(self, text: str) -> str:
        # A value that *is* a host (a hostname field, an instance id "host-pid") is replaced
        # whatever the name; inside prose only distinctive names are, so that a machine called
        # "server" does not turn every "server" of the report into a placeholder.
        lowered = text.lower()
        for host in sorted(self._hosts, key=len, reverse=True):
            if lowered == host or lowered.startswith((host + "-", host + ":")):
                text = self._hosts[host] + text[len(host) :]
                break
        return self._hosts_regex().sub(lambda m: self._hosts[m[0].lower().strip("[]")], text)

    def _secrets_regex(self) -> re.Pattern[str] | None:
        if self._secret_pattern is None and self._secrets:
            ordered = sorted(self._secrets, key=len, reverse=True)
            self._secret_pattern = re.compile("|".join(re.escape(s) for s in ordered))
        return self._secret_pattern

    def _hosts_regex(self) -> re.Pattern[str]:
        if self._host_pattern is None:
            plain = [h for h in self._hosts if h.isalpha() and len(h) < 12]
            distinctive = [h for h in self._hosts if h not in plain]
            # Plain names count in prose only as "name-123" or "name:8000" (instance ids, ports).
            parts = [
                rf"(?:{_alternation(distinctive)})(?![\w])" if distinctive else "",
                rf"(?:{_alternation(plain)})(?=[-:]\d)" if plain else "",
            ]
            self._host_pattern = re.compile(
                r"(?<![\w])(?:" + "|".join(p for p in parts if p) + ")", re.IGNORECASE
            )
        return self._host_pattern


def _alternation(names: list[str]) -> str:
    return "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))


def _keep_lead(match: re.Match[str]) -> str:
    # A short plain word after "Authorization: Bearer" is prose ("... Bearer key"), not a key.
    # So is a placeholder: <key>, {api_key}, $TTS_API_KEY.
    value = match["value"]
    if (value.isalpha() and len(value) < 8) or _PLACEHOLDER.match(value):
        return match[0]
    return match["lead"] + REDACTED


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _is_local(host: str) -> bool:
    if host in _LOOPBACK_NAMES:
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified
