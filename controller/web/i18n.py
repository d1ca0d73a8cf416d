"""The web app's words in Simplified Chinese (default) and English.

One flat catalogue: a page asks ``t("overview")`` and gets the word in the reader's language.
A key missing from the catalogue is a programming error and raises, so a test that renders
every page in both languages catches it.
"""

from __future__ import annotations

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


class Translator:
    """``t("key")`` in one language; ``t.lang`` tells which."""

    def __init__(self, lang: str) -> None:
        self.lang = lang if lang in LANGS else "zh"
        self._index = LANGS.index(self.lang)

    def __call__(self, key: str) -> str:
        return _WORDS[key][self._index]

    def name(self, zh: str, en: str | None) -> str:
        """A configured name (building, room, point) in the reader's language."""
        return en if self.lang == "en" and en else zh


def translator(lang: str) -> Translator:
    return Translator(lang)
