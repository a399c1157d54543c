"""What the designer tells a user, by stable code.

The designer API returns these as `{"error": text, "code": code}` and import warnings as
`{"element_id", "code", "message"}`: the code is for programs, the text for people. Texts are
lazy (flask-babel): `str()` gives them in the language of the request (English pages read
English, from backend/translations) and in Chinese outside a request.
"""

from flask_babel import lazy_gettext as _l

TEXTS = {
    # requests the designer refuses
    "not_deployed": _l("流程 %(key)s 尚未部署"),
    "no_such_version": _l("流程 %(key)s 没有版本 %(version)s"),
    "no_draft": _l("流程 %(key)s 没有草稿"),
    "bad_source": _l("source 只能是 draft、latest 或版本号"),
    "bad_key": _l("流程 key 无效: %(key)s (字母或下划线开头, 最多 120 个字母、数字、_ . -)"),
    "empty_draft": _l("草稿内容为空"),
    "empty_diagram": _l("流程图内容为空"),
    "invalid": _l("流程图有错误, 未部署"),
    "key_mismatch": _l("文件的主流程 id 是 %(found)s, 与流程 %(key)s 不一致"),
    "unsupported_element": _l("引擎不支持此类元素: %(kind)s"),
    "unsupported": _l("引擎不支持此类元素"),
    # import of files from other modelers
    "xml_syntax": _l("XML 格式错误: %(error)s"),
    "not_bpmn": _l("不是 BPMN 2.0 文件 (根元素命名空间错误)"),
    "no_process": _l("文件中没有 bpmn:process (协作图或会话图无法执行)"),
    "made_executable": _l('流程 %(process)s 未标记为可执行, 已设为 isExecutable="true"'),
    "ignored": _l("%(name)s 被忽略"),
    "converted": _l("%(name)s 已转换为本平台的 %(target)s: %(value)s"),
    "expression_kept": _l("%(name)s 是表达式 %(value)s, 未转换; 请在属性面板中设置 %(target)s"),
    "form_not_found": _l(
        "%(name)s 的值 %(value)s 不是本平台已有的表单 (forms/ 中的 .json 文件), 未转换; 请在属性面板中选择表单"
    ),
    "several_groups": _l("%(name)s 有多个候选组 %(value)s, 本平台每个任务只有一个候选组, 未转换"),
    "already_set": _l("%(name)s 未转换: 该元素已设置本平台的 %(target)s"),
    "not_validated": _l("无法完成校验: %(error)s"),
}


class Message:
    """One message: its code and parameters; `str()` renders it in the current language."""

    def __init__(self, code: str, **params):
        self.code = code
        self.params = params

    def __str__(self) -> str:
        text = str(TEXTS[self.code])
        return text % self.params if self.params else text

    def __repr__(self) -> str:
        return f"Message({self.code!r}, {self.params!r})"
