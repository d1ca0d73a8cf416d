"""The web app's words in Simplified Chinese (default) and English.

One flat catalogue: a page asks ``t("overview")`` and gets the word in the reader's language.
A key missing from the catalogue is a programming error and raises, so a test that renders
every page in both languages catches it.
"""

from __future__ import annotations

from .i18n_workorders import WORKORDER_WORDS

__all__ = ["LANGS", "Translator", "translator"]

LANGS = ("zh", "en")

_WORDS: dict[str, tuple[str, str]] = {
    "app": ("三节 校园节能控制器", "sanjie campus energy controller"),
    "overview": ("校园概览", "Campus overview"),
    "buildings": ("楼宇", "Buildings"),
    "building": ("楼宇", "Building"),
    "floor": ("楼层", "Floor"),
    "floors": ("楼层", "Floors"),
    "room": ("房间", "Room"),
    "rooms": ("房间", "Rooms"),
    "policies": ("节能策略", "Policies"),
    "overrides": ("临时豁免", "Overrides"),
    "alarms": ("告警", "Alarms"),
    "audit": ("审计日志", "Audit log"),
    "users": ("账户", "Accounts"),
    "calendar": ("校历", "Calendar"),
    "sign_in": ("登录", "Sign in"),
    "sign_out": ("退出", "Sign out"),
    "account_name": ("账户名", "Account name"),
    "password": ("密码", "Password"),
    "wrong_login": ("账户名或密码错误", "Wrong account name or password"),
    "locked_out": ("登录失败次数过多，请稍后再试", "Too many failed sign-ins; try again later"),
    "slow_down": ("登录尝试过于频繁，请稍候", "Too many sign-in attempts; wait a few minutes"),
    "electricity": ("电", "Electricity"),
    "cold_water": ("冷水", "Cold water"),
    "hot_water": ("热水", "Hot water"),
    "today": ("今日", "Today"),
    "yesterday": ("昨日", "Yesterday"),
    "last_week": ("上周同日", "Same day last week"),
    "so_far": ("截至目前", "so far"),
    "alarms_open": ("未关闭告警", "Open alarms"),
    "devices_offline": ("离线设备", "Devices offline"),
    "policies_acting": ("正在执行的策略", "Policies acting now"),
    "devices": ("设备", "Devices"),
    "online": ("在线", "online"),
    "offline": ("离线", "offline"),
    "unavailable": ("不可用", "unavailable"),
    "no_data": ("暂无数据", "no data"),
    "live_values": ("实时读数", "Live values"),
    "value": ("数值", "Value"),
    "updated": ("更新时间", "Updated"),
    "last_24h": ("近24小时", "Last 24 hours"),
    "last_30d": ("近30天", "Last 30 days"),
    "consumption": ("用量", "Consumption"),
    "quota": ("额度", "Allowance"),
    "remaining": ("剩余", "Remaining"),
    "used": ("已用", "Used"),
    "cut_off": ("已断电", "Cut off"),
    "send_command": ("下发命令", "Send command"),
    "command_ok": ("设备已确认", "Confirmed by the device"),
    "command_refused": ("命令被拒绝", "Command refused"),
    "command_failed": ("设备未确认", "Not confirmed by the device"),
    "reason": ("原因", "Reason"),
    "send": ("发送", "Send"),
    "point": ("测点", "Point"),
    "recent_commands": ("最近命令", "Recent commands"),
    "when": ("时间", "When"),
    "who": ("操作人", "Who"),
    "what": ("内容", "What"),
    "result": ("结果", "Result"),
    "severity": ("级别", "Severity"),
    "message": ("说明", "Message"),
    "since": ("开始时间", "Since"),
    "acknowledge": ("确认", "Acknowledge"),
    "acknowledged": ("已确认", "Acknowledged"),
    "none": ("无", "none"),
    "provisional_calendar": (
        "校历提醒：以下年份的法定节假日与调休尚未公布，请按国务院通知录入节假日文件",
        "Calendar warning: these years' holidays and make-up working days are not yet known; "
        "enter the State Council's notice in the holidays file",
    ),
    "language": ("English", "中文"),
    "role_viewer": ("只读", "viewer"),
    "role_operator": ("操作员", "operator"),
    "role_admin": ("管理员", "admin"),
    "not_found": ("找不到该页面", "Page not found"),
    "forbidden": ("无权查看", "Not allowed"),
    "back": ("返回", "Back"),
    "occupants": ("入住人数", "Occupants"),
    "beds": ("床位", "beds"),
    "kwh": ("千瓦时", "kWh"),
    "m3": ("立方米", "m³"),
    "power_now": ("当前功率", "Power now"),
    "all_floors": ("全部楼层", "All floors"),
    "change_vs": ("较", "vs"),
    "previous": ("上一页", "Previous"),
    "next": ("下一页", "Next"),
    "total": ("共", "Total"),
    "search": ("搜索", "Search"),
    "filter": ("筛选", "Filter"),
    "type": ("类型", "Type"),
    "state": ("状态", "State"),
    "all": ("全部", "All"),
    "enabled": ("已启用", "enabled"),
    "disabled": ("已停用", "disabled"),
    "enable": ("启用", "Enable"),
    "disable": ("停用", "Disable"),
    "policy": ("策略", "Policy"),
    "policy_id": ("策略编号", "Policy id"),
    "units": ("对象数", "Units"),
    "source": ("来源", "Source"),
    "source_site": ("站点配置", "site file"),
    "source_runtime": ("网页/接口修改", "changed at run time"),
    "copy": ("复制为新策略", "Copy as new"),
    "copy_of": ("复制自", "copy of"),
    "new_policy": ("新策略", "New policy"),
    "preview": ("预演（不下发命令）", "Preview (nothing is sent)"),
    "preview_now": ("按当前状态预演", "Preview now"),
    "preview_period": ("按历史时段预演", "Preview over the period"),
    "preview_invalid": ("配置有误，请按提示修改", "The configuration is invalid; see the fields"),
    "fix_fields": ("请先修改标红的字段", "Fix the fields marked in red first"),
    "required": ("必填", "required"),
    "id_taken": ("该编号已被其他策略使用", "another policy has this id"),
    "from": ("从", "From"),
    "to": ("到", "To"),
    "save": ("保存", "Save"),
    "saved": ("已保存", "Saved"),
    "confirm": ("确定", "Confirm"),
    "grant_override": ("新增临时豁免", "Grant an override"),
    "grant": ("批准豁免", "Grant"),
    "granted": ("已批准", "Granted"),
    "optional": ("可选", "optional"),
    "all_policies": ("全部策略", "all policies"),
    "hours": ("时长（小时）", "Hours"),
    "active_overrides": ("生效中的豁免", "Active overrides"),
    "where": ("范围", "Where"),
    "until": ("到期时间", "Until"),
    "end": ("结束", "End"),
    "end_override": ("提前结束豁免", "End the override early"),
    "ended": ("已结束", "Ended"),
    "show": ("显示", "Show"),
    "alarm_log": ("告警记录", "Alarm log"),
    "kind": ("种类", "Kind"),
    "sev_critical": ("严重", "critical"),
    "sev_warning": ("警告", "warning"),
    "sev_info": ("提示", "info"),
    "evidence": ("依据", "Evidence"),
    "cleared": ("已解除", "cleared"),
    "target": ("对象", "Target"),
    "add_account": ("新增账户", "Add an account"),
    "display_name": ("姓名", "Display name"),
    "role": ("角色", "Role"),
    "comma_all": ("逗号分隔，留空为全部楼宇", "comma-separated; empty for all"),
    "all_buildings": ("全部楼宇", "all buildings"),
    "add": ("添加", "Add"),
    "new_password": ("重置密码", "New password"),
    "password_once": ("密码只显示这一次，请转交本人", "The password is shown only now; pass it on"),
    "not_running": ("该功能未在本控制器运行", "This part is not running in this controller"),
    "date": ("日期", "Date"),
    "name": ("名称", "Name"),
    "day_type": ("日类型", "Day type"),
    "holidays_makeup": ("节假日与调休", "Holidays and make-up working days"),
    "day_workday": ("工作日", "working days"),
    "day_restday": ("休息日", "rest days"),
    "day_weekend": ("周末", "weekend days"),
    "day_holiday": ("法定节假日", "public holidays"),
    "day_makeup_workday": ("调休上班", "make-up working days"),
    "day_semester": ("学期内", "semester days"),
    "day_vacation": ("假期", "vacation days"),
    "day_teaching": ("教学日", "teaching days"),
    "cal_source_site": ("站点日历", "site calendar"),
    "cal_source_holidays_file": ("站点节假日文件", "site holidays file"),
    "cal_source_library": ("chinese-calendar 库", "chinese-calendar library"),
    "cal_source_chinese_calendar": ("chinese-calendar 库", "chinese-calendar library"),
    "cal_source_holidays_cn": ("法定假日推算（暂定）", "statutory holidays computed (provisional)"),
    "cal_source_weekday": ("仅按星期", "weekdays only"),
    "prepaid": ("预付费账户", "Prepaid account"),
    "balance": ("余额（元）", "Balance (yuan)"),
    "exempt": ("免断电", "exempt from cut-off"),
    "closed_account": ("已销户", "closed"),
    "free": ("免费", "Free"),
    "held": ("暂扣", "Held"),
    "charged": ("扣费（元）", "Charged (yuan)"),
    "this_month": ("本月", "This month"),
    "recent_entries": ("最近流水", "Recent entries"),
    "entry_kind": ("类型", "Kind"),
    "amount": ("金额", "Amount"),
}

_WORDS.update(WORKORDER_WORDS)


class Translator:
    """``t("key")`` in one language; ``t.lang`` tells which."""

    def __init__(self, lang: str) -> None:
        self.lang = lang if lang in LANGS else "zh"
        self._index = LANGS.index(self.lang)

    def __call__(self, key: str) -> str:
        return _WORDS[key][self._index]

    def has(self, key: str) -> bool:
        """Whether the catalogue has ``key`` (for words made from data, e.g. history actions)."""
        return key in _WORDS

    def name(self, zh: str, en: str | None) -> str:
        """A configured name (building, room, point) in the reader's language."""
        return en if self.lang == "en" and en else zh


def translator(lang: str) -> Translator:
    return Translator(lang)
