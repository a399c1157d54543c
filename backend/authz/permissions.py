"""The permission catalogue and the built-in roles with their default grants.

Permissions are dotted names; a role holds a set of them. The defaults below seed the `role` and
`role_permission` tables (demo loader, `seed_roles`); after that the security admin changes the
grants at /admin/roles and the tables are what counts. Add a permission here with one line.
"""

# name → Chinese label (shown on /admin/roles; English in the .po).
PERMISSIONS: dict[str, str] = {
    # business
    "project.apply": "申报项目",
    "project.read": "查看项目",
    "project.accept": "组织项目竣工验收 (记录验收结论和效益指标)",
    "task.work": "办理待办任务 (签收、提交、审批、签署)",
    "process.start": "发起流程",
    "export.data": "导出业务数据",
    "scope.all": "查看全部行政区划和部门的数据",
    # operations and design
    "cockpit.read": "查看运维监控台",
    "cockpit.operate": "运维操作 (重试、取消、挂起、修改变量、迁移)",
    "process.deploy": "设计表单并部署流程",
    # system administrator (系统管理员)
    "accounts.manage": "管理用户账号",
    "config.manage": "管理系统配置 (API 密钥、Webhook、入站钩子)",
    # security administrator (安全管理员)
    "roles.manage": "管理角色和权限",
    # audit administrator (审计管理员)
    "audit.read": "查看审计日志",
    "audit.export": "导出审计日志",
    # evidence ledger (存证)
    "evidence.deposit": "存证文件",
    "evidence.read": "查看存证和下载证明",
    # funds ledger (资金)
    "funds.read": "查看项目资金",
    "funds.report": "填报月度完成投资",
    "funds.import": "导入资金下达 (财政系统对接)",
    "funds.plan": "编制年度投资计划",
    # schedule (进度与任务分解)
    "schedule.edit": "编辑进度计划 (导入任务分解)",
    # site (现场)
    "site.checkin": "现场打卡和填写施工日志",
    "site.inspect": "现场抽查 (查看打卡和日志、要求实时打卡)",
    # public progress page (项目进度查询)
    "publication.manage": "管理项目公开页 (发布开关、公开照片、审核评论)",
    # risk early warning (风险预警)
    "risk.view": "查看风险预警和预测模型",
    "risk.manage": "设置风险预警阈值和重新训练模型",
    # performance indicators and the leadership cockpit (绩效指标、领导驾驶舱)
    "kpi.view": "查看绩效指标和领导驾驶舱",
    "kpi.manage": "设置绩效评价指标权重和评分规则",
}

# The three administrators (三员分立): never combined with each other or with a business role.
ADMIN_ROLES = ("sysadmin", "secadmin", "auditadmin")

# code → Chinese name
ROLE_NAMES: dict[str, str] = {
    "owner": "建设单位",
    "window": "受理窗口",
    "reviewer": "审查人员",
    "head": "部门负责人",
    "finance": "财务人员",
    "expert": "评审专家",
    "inspector": "督查人员",
    "contractor": "施工单位",
    "supervisor": "监理单位",
    "designer": "流程设计员",
    "operator": "运维人员",
    "leader": "领导",
    "sysadmin": "系统管理员",
    "secadmin": "安全管理员",
    "auditadmin": "审计管理员",
}

BUSINESS_ROLES = tuple(code for code in ROLE_NAMES if code not in ADMIN_ROLES)

_WORKER = {"project.read", "task.work", "process.start"}

DEFAULT_GRANTS: dict[str, frozenset[str]] = {
    "owner": frozenset(
        _WORKER
        | {
            "project.apply",
            "evidence.read",
            "funds.read",
            "funds.report",
            "schedule.edit",
            "site.checkin",
            "publication.manage",
        }
    ),
    "window": frozenset(_WORKER | {"export.data", "evidence.deposit", "evidence.read", "publication.manage"}),
    "reviewer": frozenset(
        _WORKER | {"export.data", "evidence.read", "risk.view", "kpi.view", "project.accept"}
    ),
    "head": frozenset(
        _WORKER
        | {
            "export.data",
            "evidence.deposit",
            "evidence.read",
            "funds.read",
            "funds.plan",
            "site.inspect",
            "risk.view",
            "risk.manage",
            "kpi.view",
            "kpi.manage",
            "project.accept",
        }
    ),
    "finance": frozenset(
        _WORKER
        | {
            "export.data",
            "evidence.read",
            "funds.read",
            "funds.import",
            "funds.plan",
            "risk.view",
            "kpi.view",
        }
    ),
    "expert": frozenset({"project.read", "task.work"}),
    "inspector": frozenset(
        _WORKER | {"export.data", "evidence.read", "funds.read", "site.inspect", "risk.view", "kpi.view"}
    ),
    "contractor": frozenset({"project.read", "task.work", "process.start", "site.checkin"}),
    "supervisor": frozenset({"project.read", "task.work", "process.start", "site.checkin", "site.inspect"}),
    "designer": frozenset({"process.deploy"}),
    # Operators own the integration keys: they may start instances and correlate messages.
    # Platform operations watches and repairs every instance, whatever its region: scope.all
    # (an API key's region still narrows what a key sees).
    "operator": frozenset(
        {
            "cockpit.read",
            "cockpit.operate",
            "project.read",
            "process.start",
            "scope.all",
            "risk.view",
            "risk.manage",
            "kpi.view",
            "kpi.manage",
        }
    ),
    # Leadership (领导): reads the cockpit, projects, warnings and money of their region; no
    # business action.
    "leader": frozenset({"project.read", "kpi.view", "risk.view", "funds.read"}),
    "sysadmin": frozenset({"accounts.manage", "config.manage"}),
    "secadmin": frozenset({"roles.manage"}),
    "auditadmin": frozenset({"audit.read", "audit.export", "evidence.read"}),
}

# What an admin role may never hold, whatever the security admin grants: business work and the
# other admins' permissions.
ADMIN_ONLY: dict[str, frozenset[str]] = {
    "sysadmin": frozenset({"accounts.manage", "config.manage"}),
    "secadmin": frozenset({"roles.manage"}),
    "auditadmin": frozenset({"audit.read", "audit.export"}),
}
BUSINESS_ACTIONS = frozenset({"task.work", "process.start", "project.apply"})


def label(name: str) -> str:
    return PERMISSIONS.get(name, name)


# What an API operation group needs of the person calling (or owning the key), besides the
# key's own scopes: an admin's key or session cannot act on business data.
API_SCOPE_PERMISSIONS: dict[str, str | None] = {
    "processes:read": None,
    "instances:read": "project.read",
    "instances:write": "process.start",
    "tasks:read": None,
    "tasks:write": "task.work",
    "messages:write": "process.start",
    "projects:read": "project.read",
    "contracts:read": "project.read",
    "tickets:read": "project.read",
    "funds:read": "funds.read",
    "funds:write": "funds.import",
    "schedule:read": "project.read",
    "schedule:write": "schedule.edit",
}
