"""The indicator catalogue (指标目录) of issue 10: what each figure of the cockpit means.

The texts say exactly what `backend.kpi.service` computes (keep both in step). "期间" is the
chosen year, quarter or month on the Beijing calendar; "期末" its last day (or today, when the
period is not over yet). Rates are numerator ÷ denominator of the records of the projects in
the chosen region (and the data scope), so a parent's figure is the sum of its children's parts.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Indicator:
    code: str
    name: str
    unit: str  # "%", "天", "个", "分", "倍"
    formula: str
    source: str
    period: str
    better: str  # "higher" | "lower" | "none"


# Project statuses counted as "立项后" (approved and beyond) by the investment and start/completion rates.
ACTIVE_STATUSES = ("approved", "in_construction", "completed")

CATALOGUE: tuple[Indicator, ...] = (
    Indicator(
        code="investment_year",
        name="年度投资完成率",
        unit="%",
        formula="本年1月至期末月的完成投资 ÷ 本年年度计划投资 × 100%",
        source="投资月报（每月只计最新版本）；年度计划投资为资金台账的年度预算（全部资金来源）",
        period="所选期间所在年度，1月至期末月累计",
        better="higher",
    ),
    Indicator(
        code="investment_total",
        name="总投资完成率",
        unit="%",
        formula="截至期末月的累计完成投资（历年全部月报）÷ 项目总投资 × 100%（只计已批复、在建、已竣工项目）",
        source="投资月报（每月只计最新版本）；项目申报的总投资",
        period="累计至期末",
        better="higher",
    ),
    Indicator(
        code="disbursement",
        name="资金拨付率",
        unit="%",
        formula="合同付款已拨付金额 ÷ 资金下达金额 × 100%",
        source="合同付款（状态为已拨付，按拨付时间）；财政系统导入的资金下达（按下达日期）",
        period="累计至期末",
        better="higher",
    ),
    Indicator(
        code="schedule_deviation",
        name="工期偏差率",
        unit="%",
        formula=(
            "Σ 末级任务拖期天数 ÷ Σ 末级任务计划工期天数 × 100%。只计计划完成日早于期末的末级任务；"
            "拖期天数 = (期末前的实际完成日，未完成则期末) − 计划完成日，提前完成计 0；"
            "计划工期 = 计划完成日 − 计划开始日 + 1（日历天）。"
            "这是至期末已发生的拖期；项目进度页的“预计工期偏差率”按预测完成日计算，二者不同"
        ),
        source="进度计划的末级任务分解项（计划开始、计划完成、实际完成日期）",
        period="累计至期末",
        better="lower",
    ),
    Indicator(
        code="start_rate",
        name="开工率",
        unit="%",
        formula=(
            "计划开工日在所选期间内且不晚于期末的项目中已开工的个数 ÷ 这些项目的个数 × 100%；"
            "已开工 = 开工申报的实际开工日不晚于期末，或有任务分解项的实际开始日不晚于期末；"
            "没有实际开工日的在建、已竣工项目（开工申报上线前的存量）按状态计为已开工"
        ),
        source=(
            "项目（计划开工日期、开工申报的实际开工日期、状态，只计已批复、在建、已竣工项目）；"
            "进度计划的实际开始日期"
        ),
        period="计划开工日在期初至期末之间",
        better="higher",
    ),
    Indicator(
        code="completion_rate",
        name="竣工率",
        unit="%",
        formula=(
            "计划竣工日在所选期间内且不晚于期末的项目中期末前已竣工的个数 ÷ 这些项目的个数 × 100%；"
            "已竣工 = 竣工验收合格且验收日期不晚于期末（无验收记录的已竣工项目按状态计）"
        ),
        source="项目（计划竣工日期、状态，只计已批复、在建、已竣工项目）；竣工验收的验收日期",
        period="计划竣工日在期初至期末之间",
        better="higher",
    ),
    Indicator(
        code="approval_on_time",
        name="审批时限达标率",
        unit="%",
        formula="在办理时限内办结的审批环节数 ÷ 有办理时限的审批环节数 × 100%（逾期或被督办的环节不达标）",
        source="并联审批各部门（含专家评审）的审批意见记录，不含申报单位自己的环节",
        period="办结时间在所选期间内",
        better="higher",
    ),
    Indicator(
        code="approval_mean_days",
        name="平均审批用时",
        unit="天",
        formula="Σ 各审批环节用时（工作日）÷ 审批环节数",
        source="并联审批各部门（含专家评审）的审批意见记录（收到任务后至办结日的工作日数）",
        period="办结时间在所选期间内",
        better="lower",
    ),
    Indicator(
        code="ticket_on_time",
        name="整改按期完成率",
        unit="%",
        formula="整改期限已到的工单中在期限前核验通过关闭的个数 ÷ 整改期限已到的工单个数 × 100%（不含撤销的工单）",
        source="整改工单（整改期限、关闭时间、结果）",
        period="整改期限在所选期间内且已到期",
        better="higher",
    ),
    Indicator(
        code="ticket_first_pass",
        name="一次整改通过率",
        unit="%",
        formula="第一次核验即通过的工单数 ÷ 核验通过关闭的工单数 × 100%",
        source="整改工单（整改轮次、结果、关闭时间）",
        period="关闭时间在所选期间内",
        better="higher",
    ),
    Indicator(
        code="warnings_red",
        name="红色预警",
        unit="个",
        formula="最高等级为红色的风险预警个数",
        source="风险预警（规则和预测模型发出的，按发出时间和达到的最高等级）",
        period="发出时间在所选期间内",
        better="lower",
    ),
    Indicator(
        code="warnings_orange",
        name="橙色预警",
        unit="个",
        formula="最高等级为橙色的风险预警个数",
        source="风险预警（规则和预测模型发出的，按发出时间和达到的最高等级）",
        period="发出时间在所选期间内",
        better="lower",
    ),
    Indicator(
        code="warnings_yellow",
        name="黄色预警",
        unit="个",
        formula="最高等级为黄色的风险预警个数",
        source="风险预警（规则和预测模型发出的，按发出时间和达到的最高等级）",
        period="发出时间在所选期间内",
        better="lower",
    ),
    Indicator(
        code="satisfaction",
        name="满意度",
        unit="分",
        formula="Σ 公众评分 ÷ 评价条数（满分 5 分）",
        source="项目公开页的公众评价（只计审核通过的）",
        period="提交时间在所选期间内",
        better="higher",
    ),
    Indicator(
        code="benefit_ratio",
        name="投资效益比",
        unit="倍",
        formula=(
            "验收日期在所选期间内且不晚于期末、竣工验收合格的项目：Σ 验收时填报的年均经济效益（元）"
            "÷ Σ 这些项目的总投资（元）"
        ),
        source="竣工验收记录（验收日期、结论为合格、年均经济效益）；项目申报的总投资",
        period="验收日期在期初至期末之间",
        better="higher",
    ),
)

BY_CODE: dict[str, Indicator] = {indicator.code: indicator for indicator in CATALOGUE}
