"""Secrets: kept out of the configuration, and redacted from every text before it is cut or written.

Everything a run writes (the run directory's name, ``.hydra/``, ``run.json``, ``samples.jsonl``,
``job_error.json``, reports, the response cache, logs and the console) is derived from the
configuration or from text that servers send back. So secrets are handled in two places:

* **Never in the configuration.** :func:`check_config` refuses a configuration that holds one:
  a URL with a ``user:password@`` login, a value under a key named like a secret (``api_key``,
  ``token``, ``password``, ...), or a key pasted where the *name* of an environment variable is
  expected (``model.api_key_env=sk-...``). The refusal is one line that names the key and never
  repeats the value, and it happens before Hydra creates the run directory or saves the config.
  Keys are read from environment variables (``model.api_key_env``), logins from ``~/.netrc``.
* **Redacted at the source.** Secrets that the process does hold (the keys in those variables, a
  netrc or proxy password) are replaced by ``***`` in every message built from server text, by a
  :class:`Redactor`, *before* the message is shortened: a message cut first would keep the part of
  the key that came before the cut. A token of the text that is a long piece of a secret (a server
  that echoes a truncated key) is redacted too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

from harness.errors import ConfigError

REDACTED = "***"
SECRET_KEY_NAME = re.compile(
    r"(.*_)?(api_?key|access_?token|auth_?token|hf_token|token|secret|client_secret|password|passwd|"
    r"authorization|credentials?)",
    re.IGNORECASE,
)
"""Config keys (``-`` read as ``_``) whose string values are secrets: ``api_key``, ``hf_token``, ..."""
SPECIAL_TOKENS = ("pad_", "bos_", "eos_", "unk_", "sep_", "cls_", "mask_")
"""Prefixes of tokenizer settings (``pad_token``) that are named like secrets and are not."""
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
URL_LOGIN = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<login>[^/@\s?#]*)@")
MIN_PARTIAL = 8
"""A token sharing this many characters in a row with a secret of at least twice that length is redacted."""
TOKEN = re.compile(rf"[A-Za-z0-9_\-.~+/=:]{{{MIN_PARTIAL},}}")


def strip_url_logins(text: str) -> str:
    """``text`` with the ``user:password@`` part of every URL in it replaced by ``***@``."""
    return URL_LOGIN.sub(lambda m: f"{m['scheme']}{REDACTED}@", text)


def url_password(url: str) -> str | None:
    """The password of a URL's ``user:password@`` login, or None."""
    try:
        return urlsplit(url).password or None
    except ValueError:
        return None


def looks_like_a_key(value: str) -> bool:
    """True when ``value`` cannot be an environment variable's name, or reads like a key.

    A variable name is letters, digits and underscores; a key pasted instead usually has a dash
    (``sk-...``) or mixes lower-case letters and digits over many characters.
    """
    if not ENV_NAME.fullmatch(value):
        return True
    return len(value) >= 16 and any(c.islower() for c in value) and any(c.isdigit() for c in value)


def _walk(node: Any, where: str = "", key: str = "") -> Iterator[tuple[str, str, Any]]:
    """(dotted path, key, value) of every leaf of a nested mapping/list (list items keep their key)."""
    if isinstance(node, Mapping):
        for name, value in node.items():
            yield from _walk(value, f"{where}.{name}" if where else str(name), str(name))
    elif isinstance(node, list | tuple):
        for index, value in enumerate(node):
            yield from _walk(value, f"{where}[{index}]", key)
    else:
        yield where, key, node


def config_problem(config: Mapping[str, Any]) -> str | None:
    """The first place where ``config`` holds a secret, as one line naming the key; None if none."""
    for path, key, value in _walk(config):
        if not isinstance(value, str) or not value:
            continue
        if URL_LOGIN.search(value) and any(url_password(m) for m in _urls(value)):
            return (
                f"{path} holds a URL with a user:password login; a secret in the configuration would be "
                "saved in .hydra/, run.json and the run directory's name. Remove the login and put it in "
                "~/.netrc (machine <host> login <user> password <password>), or put a key in an "
                "environment variable named by model.api_key_env"
            )
        if key.endswith("_env") and looks_like_a_key(value):
            return (
                f"{path} must name an environment variable (such as OPENAI_API_KEY), and the value given "
                f"is not a variable name; if it is the key itself, export it (export MY_KEY=...) and pass "
                f"{path}=MY_KEY"
            )
        if SECRET_KEY_NAME.fullmatch(key.replace("-", "_")) and not key.lower().startswith(SPECIAL_TOKENS):
            return (
                f"{path} looks like a secret; secrets never go in the configuration (it is saved in .hydra/ "
                "and run.json): put it in an environment variable and name that variable in the config"
            )
    return None


def _urls(text: str) -> list[str]:
    return [text[m.start() :].split()[0] for m in URL_LOGIN.finditer(text)]


def check_config(config: Mapping[str, Any]) -> None:
    """Raise :class:`ConfigError` (one line, value not repeated) when ``config`` holds a secret."""
    problem = config_problem(config)
    if problem is not None:
        raise ConfigError(problem)


class Redactor:
    """Replaces every known secret (and long pieces of one) in a text with ``***``.

    URL logins (``scheme://user:password@``) are always replaced, known secrets or not.
    """

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def add(self, secret: str | None) -> None:
        """Redact ``secret`` from now on as well."""
        if secret and secret not in self._secrets:
            self._secrets = sorted([*self._secrets, secret], key=len, reverse=True)

    def __call__(self, text: str) -> str:
        """The text with every secret, every piece of one and every URL login replaced."""
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        if self._secrets:
            text = TOKEN.sub(self._partial, text)
        return strip_url_logins(text)

    def _partial(self, match: re.Match[str]) -> str:
        """``***`` for a token that shares :data:`MIN_PARTIAL` characters in a row with a long secret."""
        token = match.group(0)
        pieces = {token[i : i + MIN_PARTIAL] for i in range(len(token) - MIN_PARTIAL + 1)}
        long_secrets = [s for s in self._secrets if len(s) >= 2 * MIN_PARTIAL]
        return REDACTED if any(piece in secret for secret in long_secrets for piece in pieces) else token

    def cut(self, text: str, limit: int) -> str:
        """The redacted text, then shortened to ``limit`` characters (never the other way round)."""
        return self(text)[:limit]
