"""What the audit log's codes mean to a person: every action code and object type with a Chinese
label, and each action in a category (the filter of /admin/audit, the exports).

The codes stay the stored, signed data; labels are only shown. A code with no entry here is shown
as itself. tests/audit/test_action_labels.py walks the code base for the codes passed to
`record()` (and written by backend/audit/hooks.py) and fails on one that has no label here: a new
action is labelled when it is added.
"""

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

OTHER = "other"

# Order is the order of the filter's select and its groups.
CATEGORIES = {
    "session": _l("登录与会话"),
    "account": _l("账号与权限"),
    "access": _l("访问控制"),
    "config": _l("配置"),
    "deploy": _l("流程部署"),
    "approval": _l("审批业务"),
    "operations": _l("流程运维"),
    "funds": _l("资金"),
    "schedule": _l("进度管理"),
    "site": _l("现场管理"),
    "publication": _l("项目公开"),
    "export": _l("导出"),
    "evidence": _l("存证与签章"),
    "audit": _l("审计自身"),
    OTHER: _l("其他"),
}


@dataclass(frozen=True)
class Action:
    code: str
    category: str
    label: object  # a lazy string: rendered in the request's language

    @property
    def text(self) -> str:
        return str(self.label)


def _actions(category: str, labels: dict) -> dict[str, Action]:
    return {code: Action(code, category, label) for code, label in labels.items()}


ACTIONS: dict[str, Action] = {
    **_actions(
        "session",
        {
            "auth.login": _l("登录"),
            "auth.logout": _l("退出登录"),
            "auth.lockout": _l("账号锁定"),
            "auth.password_change": _l("修改本人密码"),
            "auth.totp_enable": _l("启用动态口令"),
            "auth.totp_disable": _l("停用动态口令"),
            "auth.recovery_codes": _l("重新生成恢复码"),
        },
    ),
    **_actions(
        "account",
        {
            "user.create": _l("创建账号"),
            "user.disable": _l("停用账号"),
            "user.enable": _l("启用账号"),
            "user.unlock": _l("解除账号锁定"),
            "user.password_reset": _l("重置账号密码"),
            "user.totp_reset": _l("重置账号动态口令"),
            "user.admin_refused": _l("拒绝在页面修改管理员账号"),
            "role.create": _l("创建角色"),
            "role.grant": _l("角色授予权限"),
            "role.revoke": _l("角色收回权限"),
            "role.assign": _l("分配用户角色"),
        },
    ),
    **_actions(
        "access",
        {
            "access.denied": _l("越权访问被拒绝"),
            "security.rate_limited": _l("请求过于频繁被限制"),
        },
    ),
    **_actions(
        "config",
        {
            "config.change": _l("配置变更"),
            "crypto.reencrypt": _l("敏感数据重新加密"),
        },
    ),
    **_actions(
        "deploy",
        {
            "deploy": _l("部署流程定义"),
        },
    ),
    **_actions(
        "approval",
        {
            "process.start": _l("发起流程实例"),
            "task.complete": _l("办理任务"),
            "task.return": _l("退回任务"),
            "task.withdraw": _l("撤回任务"),
            "task.claim": _l("签收任务"),
            "task.unclaim": _l("取消签收"),
            "task.transfer": _l("转办任务"),
            "task.delegate": _l("委托任务"),
            "task.delegate_return": _l("答复委托"),
            "task.cc": _l("抄送任务"),
            "task.urge": _l("催办任务"),
            "task.add_sign": _l("加签"),
            "task.remove_signer": _l("移除加签人"),
            "task.sign": _l("加签签署"),
            "approval.issue": _l("签发批复文件"),
            "ocr.retry": _l("重新识别申报材料"),
        },
    ),
    **_actions(
        "operations",
        {
            "instance.cancel": _l("终止流程实例"),
            "instance.suspend": _l("挂起流程实例"),
            "instance.resume": _l("恢复流程实例"),
            "instance.variable_change": _l("修改流程变量"),
            "instance.migrate": _l("迁移流程实例版本"),
            "incident.retry": _l("重试异常任务"),
            "incident.resolve": _l("处理流程异常"),
        },
    ),
    **_actions(
        "funds",
        {
            "payment.release": _l("拨付资金"),
            "funds.allocation_import": _l("导入资金下达"),
            "funds.monthly_report": _l("填报月度完成投资"),
            "funds.budget_line": _l("编制年度投资计划"),
        },
    ),
    **_actions(
        "schedule",
        {
            "wbs.change": _l("修改任务分解"),
            "wbs.import": _l("导入任务分解"),
            "wbs.progress": _l("填报任务进度"),
            "wbs.baseline": _l("建立进度基线"),
            "project.start": _l("申报开工"),
            "project.accept": _l("竣工验收"),
        },
    ),
    **_actions(
        "site",
        {
            "site.location_update": _l("设置项目现场位置"),
            "site.checkin": _l("现场打卡"),
            "site.log_save": _l("填写施工日志"),
            "site.request": _l("要求实时打卡"),
            "site.request_expired": _l("实时打卡超时未响应"),
        },
    ),
    **_actions(
        "publication",
        {
            "publication.switch": _l("开关项目公开页"),
            "publication.photo_publish": _l("公开项目照片"),
            "publication.photo_unpublish": _l("撤下公开照片"),
            "publication.photo_edit": _l("修改公开照片"),
            "publication.feedback_approve": _l("审核通过公众评价"),
            "publication.feedback_reject": _l("驳回公众评价"),
        },
    ),
    **_actions(
        "export",
        {
            "export": _l("下载导出文件"),
            "data.export": _l("导出业务数据"),
            "kpi.report_request": _l("申请生成绩效报告"),
            "kpi.report_download": _l("下载绩效报告"),
        },
    ),
    **_actions(
        "evidence",
        {
            "evidence.deposit": _l("文件存证"),
            "evidence.download": _l("下载存证证明"),
            "evidence.checkpoint": _l("签署存证检查点"),
            "esign.sign": _l("电子签章"),
            "crypto.key_create": _l("生成个人签名密钥"),
        },
    ),
    **_actions(
        "audit",
        {
            "audit.checkpoint": _l("签署审计检查点"),
            "audit.verify": _l("校验账本"),
            "audit.purge": _l("清理过期审计记录"),
        },
    ),
}

OBJECT_TYPES = {
    "user": _l("用户"),
    "role": _l("角色"),
    "route": _l("页面或接口"),
    "endpoint": _l("下载地址"),
    "task": _l("任务"),
    "human_task": _l("任务"),
    "process_instance": _l("流程实例"),
    "process_definition": _l("流程定义"),
    "approval_document": _l("批复文件"),
    "approval_opinion": _l("审批意见"),
    "payment": _l("资金拨付"),
    "fund_allocation": _l("资金下达"),
    "investment_report": _l("月度完成投资"),
    "budget_line": _l("年度计划投资"),
    "application": _l("申报"),
    "document_extraction": _l("申报材料识别"),
    "project": _l("项目"),
    "wbs_item": _l("任务分解项"),
    "public_photo": _l("公开照片"),
    "public_feedback": _l("公众评价"),
    "inbound_hook": _l("入站回调"),
    "webhook_subscription": _l("Webhook 订阅"),
    "api_key": _l("API 密钥"),
    "ledger": _l("账本"),
    "ledger_checkpoint": _l("账本检查点"),
    "evidence_record": _l("存证记录"),
    "user_signing_key": _l("个人签名密钥"),
    "sm4_master_key": _l("SM4 主密钥"),
    "risk_setting": _l("风险预警阈值"),
    "risk_model": _l("风险预测模型"),
    "risk_warning": _l("风险预警"),
    "kpi_report": _l("绩效报告"),
    # Rate-limit buckets (backend/security): what was limited.
    "login": _l("登录 (按来源地址)"),
    "login-account": _l("登录 (按账号)"),
    "hook": _l("入站回调"),
}

RESULTS = {
    "success": (_l("成功"), "success"),
    "failure": (_l("失败"), "danger"),
    "denied": (_l("拒绝"), "warning"),
}


def label(code: str | None) -> str:
    """The action's label, or the code itself when it has none."""
    if not code:
        return ""
    action = ACTIONS.get(code)
    return action.text if action else code


def category_of(code: str) -> str:
    action = ACTIONS.get(code)
    return action.category if action else OTHER


def category_label(category: str) -> str:
    return str(CATEGORIES.get(category, category))


def codes_in(category: str) -> tuple[str, ...]:
    return tuple(code for code, action in ACTIONS.items() if action.category == category)


def object_label(object_type: str | None) -> str:
    if not object_type:
        return ""
    found = OBJECT_TYPES.get(object_type)
    return str(found) if found is not None else object_type


def result_label(result: str) -> str:
    found = RESULTS.get(result)
    return str(found[0]) if found else result


def result_badge(result: str) -> str:
    """The Bootstrap colour of a result's badge."""
    found = RESULTS.get(result)
    return found[1] if found else "secondary"


def grouped(seen: list[str] | tuple[str, ...] = ()) -> list[tuple[str, str, list[tuple[str, str]]]]:
    """[(category, its label, [(code, label), …]), …] for the filter: every catalogued action,
    and the codes seen in the log that are not catalogued under "other"."""
    groups: dict[str, list[tuple[str, str]]] = {category: [] for category in CATEGORIES}
    for code, action in ACTIONS.items():
        groups[action.category].append((code, action.text))
    groups[OTHER].extend((code, code) for code in sorted(set(seen) - ACTIONS.keys()))
    return [(category, category_label(category), items) for category, items in groups.items() if items]
