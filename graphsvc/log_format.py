"""How `catalog serve` writes its log: one JSON object per line on stderr (`log_format: json`, the default, for
a log collector), or text lines for a person at a terminal.

Every logger goes to the one handler, uvicorn's included; uvicorn's access log is off, since
`graphsvc.api.request_log` writes a richer line per request (id, principal, operation, duration).
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any, Literal

from graphsvc.api.request_log import current_request_id

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """A record as one JSON object: ts (ISO 8601, UTC), level, logger, message, then the record's `fields`
    (`extra={"fields": {...}}`), then the exception's traceback, if any."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = current_request_id.get()
        if request_id is not None:
            line["request_id"] = request_id
        line.update(getattr(record, "fields", {}))
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def serve_logging(log_format: Literal["json", "text"], verbose: bool) -> dict[str, Any]:
    """The `logging.config.dictConfig` of `catalog serve`: warnings and worse (everything with `--verbose`),
    and always the request lines."""
    level = "INFO" if verbose else "WARNING"
    formatter = {"()": JsonFormatter} if log_format == "json" else {"format": TEXT_FORMAT}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"catalog": formatter},
        "handlers": {
            "stderr": {"class": "logging.StreamHandler", "stream": "ext://sys.stderr", "formatter": "catalog"}
        },
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {
            "graphsvc.request": {"level": "INFO"},
            "uvicorn": {"level": level, "handlers": [], "propagate": True},
            "uvicorn.access": {"level": "WARNING", "handlers": [], "propagate": False},
        },
    }
