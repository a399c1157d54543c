"""The budget system behind its Protocol: the file-drop default and selection by config."""

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from backend.contracts.budget_system import (
    BudgetSystem,
    FileDropBudgetSystem,
    PaymentRequest,
    budget_system,
    exchange_directory,
)
from backend.contracts.errors import BudgetSystemNotConfigured


def _request(amount="300000.10", number="FK-2026-00000001"):
    return PaymentRequest(
        payment_number=number,
        amount=Decimal(amount),
        project_code="2026-330100-48-01-000123",
        project_name="杭州市城东快速路工程",
        contract_number="HT-2026-001",
        contract_name="一标段施工合同",
        milestone_name="基础工程完工",
        payee_name="浙江省建工集团有限责任公司",
        payee_credit_code="91330000142916380P",
        budget_year=2026,
        budget_source="省级财政资金",
        approved_at=datetime(2026, 3, 2, 2, 0, tzinfo=UTC),
        finance_opinion="同意",
    )


def test_file_drop_writes_one_complete_json_file_per_payment(tmp_path):
    system = FileDropBudgetSystem(tmp_path / "outbox")
    assert isinstance(system, BudgetSystem)
    reference = system.submit_payment(_request())
    assert reference == "file:FK-2026-00000001.json"
    files = list((tmp_path / "outbox").iterdir())
    assert [f.name for f in files] == ["FK-2026-00000001.json"]  # no temporary file left behind
    content = json.loads(files[0].read_text(encoding="utf-8"))
    assert content["format"] == "keyproject.payment-request/1"
    assert content["amount"] == "300000.10"  # a string: exact, never a float
    assert content["payee_name"] == "浙江省建工集团有限责任公司"
    assert content["approved_at"] == "2026-03-02T02:00:00+00:00"

    # A retry of the same payment replaces the file: one request, never two.
    system.submit_payment(_request(amount="300000.10"))
    assert len(list((tmp_path / "outbox").iterdir())) == 1


def test_default_directory_is_under_files_dir(app):
    before = app.config["BUDGET_EXCHANGE_DIR"]
    app.config["BUDGET_EXCHANGE_DIR"] = ""
    try:
        assert exchange_directory(app) == Path(app.config["FILES_DIR"]) / "budget-outbox"
    finally:
        app.config["BUDGET_EXCHANGE_DIR"] = before


class Recorder:
    def __init__(self, app):
        self.app = app

    def submit_payment(self, request):
        return f"recorded:{request.payment_number}"


def make_recorder(app):
    return Recorder(app)


def make_nothing(app):
    return object()


def test_budget_system_is_selected_by_config(app, outbox):
    with app.app_context():
        system = budget_system()
        assert isinstance(system, FileDropBudgetSystem) and system.directory == outbox
        app.config["BUDGET_SYSTEM"] = f"{__name__}:make_recorder"
        assert budget_system().submit_payment(_request()) == "recorded:FK-2026-00000001"
        for setting in (f"{__name__}:missing", "no.such.module:factory", f"{__name__}:make_nothing"):
            app.config["BUDGET_SYSTEM"] = setting
            with pytest.raises(BudgetSystemNotConfigured):
                budget_system()
