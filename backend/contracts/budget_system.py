"""The budget system (预算管理一体化系统): an outside system that receives approved payment
requests and later confirms the disbursement.

`BudgetSystem` is the contract; `FileDropBudgetSystem` is the real default: it writes each
request as a JSON file into an exchange directory that the finance side collects, the way
file-drop integrations with finance systems work. The confirmation comes back on its own
path (an integrator's call of `correlate_message("disbursement_confirmed", ...)` with the
payment number), never as the return value of `submit_payment`.

Selected by `BUDGET_SYSTEM`: `file` (default) or `package.module:factory`, where
`factory(app)` returns a `BudgetSystem`.
"""

from __future__ import annotations

import importlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Protocol, runtime_checkable

from flask import Flask, current_app

from backend.contracts.errors import BudgetSystemNotConfigured

FILE_DROP = "file"
FORMAT = "keyproject.payment-request/1"


@dataclass(frozen=True)
class PaymentRequest:
    """What the budget system needs to pay: who, how much, from which budget line, and why."""

    payment_number: str
    amount: Decimal
    project_code: str
    project_name: str
    contract_number: str
    contract_name: str
    milestone_name: str
    payee_name: str
    payee_credit_code: str | None
    budget_year: int
    budget_source: str
    approved_at: datetime
    finance_opinion: str | None = None

    def to_json(self) -> dict:
        data = asdict(self)
        data["amount"] = f"{self.amount:.2f}"  # exact yuan, never a float
        data["approved_at"] = self.approved_at.isoformat()
        return {"format": FORMAT, **data}


@runtime_checkable
class BudgetSystem(Protocol):
    def submit_payment(self, request: PaymentRequest) -> str:
        """Hand the request over; returns the system's reference for it. Submitting the same
        payment number again must not create a second payment (retries happen)."""
        ...


class FileDropBudgetSystem:
    """Writes `<payment number>.json` into the exchange directory.

    The file appears atomically (written aside, then renamed), so the collector never reads
    half a request; a retry rewrites the same file name, so it never makes two payments.
    """

    def __init__(self, directory: str | Path):
        self.directory = Path(directory)

    def submit_payment(self, request: PaymentRequest) -> str:
        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"{request.payment_number}.json"
        content = json.dumps(request.to_json(), ensure_ascii=False, indent=2, sort_keys=True)
        fd, temporary = tempfile.mkstemp(dir=self.directory, prefix=".", suffix=".part")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(content)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, self.directory / name)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return f"file:{name}"


def exchange_directory(app: Flask) -> Path:
    configured = app.config.get("BUDGET_EXCHANGE_DIR")
    return Path(configured) if configured else Path(app.config["FILES_DIR"]) / "budget-outbox"


def budget_system(app: Flask | None = None) -> BudgetSystem:
    """The budget system this deployment talks to (see the module docstring)."""
    app = app or current_app._get_current_object()
    setting = app.config.get("BUDGET_SYSTEM") or FILE_DROP
    if setting == FILE_DROP:
        return FileDropBudgetSystem(exchange_directory(app))
    module_name, _, factory_name = setting.partition(":")
    try:
        factory = getattr(importlib.import_module(module_name), factory_name)
    except (ImportError, AttributeError, ValueError):
        raise BudgetSystemNotConfigured(setting) from None
    system = factory(app)
    if not isinstance(system, BudgetSystem):
        raise BudgetSystemNotConfigured(setting)
    return system
