"""pip-audit, whose PyPI service also reads a project's record where its release's is not served.
Run with the scanner's environment and pip-audit's arguments:

    .venv-scan/pip-audit/bin/python tools/audit_locks.py --vulnerability-service pypi \
        --require-hashes --disable-pip -r requirements-dev.lock

pip-audit asks PyPI for each locked release's record (/pypi/NAME/VERSION/json) and skips a
release whose record answers 404. Where only the project's record (/pypi/NAME/json) is served, as
through this project's package proxy, that record is used when the locked version is the
project's latest release: its vulnerabilities are that release's. Any other version stays
skipped, and is named here.
"""

from __future__ import annotations

import re
import sys
from typing import Any

from packaging.version import Version
from pip_audit import _cli  # type: ignore[import-not-found]

RELEASE = re.compile(r"https://pypi\.org/pypi/([^/]+)/([^/]+)/json")


class LatestReleaseRecords:
    """A session whose GET of a release's record falls back to its project's record."""

    def __init__(self, session: Any) -> None:
        self.session = session

    def get(self, url: str, **kwargs: Any) -> Any:
        response = self.session.get(url, **kwargs)
        match = RELEASE.fullmatch(url)
        if response.status_code != 404 or not match:
            return response
        project = self.session.get(f"https://pypi.org/pypi/{match[1]}/json", **kwargs)
        if not project.ok:
            return response
        latest = project.json()["info"]["version"]
        if Version(latest) == Version(match[2]):
            return project
        print(f"{match[1]} {match[2]}: not audited, PyPI serves here only the latest ({latest})")
        return response


def service(**kwargs: Any) -> Any:
    pypi = PYPI_SERVICE(**kwargs)
    pypi.session = LatestReleaseRecords(pypi.session)
    return pypi


PYPI_SERVICE = _cli.PyPIService

if __name__ == "__main__":
    _cli.PyPIService = service
    sys.exit(_cli.audit())
