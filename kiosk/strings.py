"""Every text the customer sees, in one table (the bundled font is subset from it)."""

STRINGS: dict[str, str] = {
    "title": "扫码上机",
    "touch_hint": "点击屏幕或按任意键 · 扫码上机",
    "service": "客服电话：{number}",
    "service_none": "客服电话：请咨询前台",
    "scan_hint": "请使用微信扫一扫，扫码后即可上机",
    "scan_client": "本机编号：{client_id}",
    "scan_back": "{seconds} 秒后返回待机画面",
    "elapsed": "已上机",
    "cost": "费用",
    "rate": "{rate}元/分钟",
    "money": "¥{amount}",
    "end_button": "结束上机",
    "end_title": "确认结束上机？",
    "end_summary": "上机时长 {duration}    费用 {cost}",
    "end_confirm": "确认结束 (Enter)",
    "end_cancel": "继续上机 (Esc)",
    "end_wait": "正在结束上机…",
    "pay_title": "本次上机已结束，请扫码支付",
    "pay_countdown": "{seconds} 秒后电脑将自动重启",
    "offline_failed": "结束上机失败，请稍后重试或联系网管",
    "unpaid_title": "上次上机尚未支付",
    "unpaid_summary": "上机时长 {duration}    待支付 {cost}",
    "unpaid_hint": "请扫码支付，支付完成后电脑将自动重启",
    "rebooting": "系统重启中",
    "rebooting_hint": "请稍候，电脑正在重启…",
    "reboot_failed": "请联系网管",
    "reboot_failed_hint": "电脑未能自动重启，请联系网管处理",
    "maintenance": "维护模式",
    "admin_prompt": "请输入管理员密码",
    "admin_keys": "Enter 确认 · Esc 取消",
    "admin_checking": "正在验证…",
    "admin_wrong": "密码错误",
    "admin_wait": "错误次数过多，请 {seconds} 秒后再试",
    "connecting": "正在连接服务器…",
    "unregistered": "未登记的机器",
    "unregistered_hint": "本机不在机器登记表中，暂时不能使用。请联系网管。",
    "unregistered_host": "计算机名：{hostname}",
    "unregistered_mac": "MAC 地址：{macs}",
    "unregistered_fix": "网管：在 {file} 中加一行 {line}（逗号后填本机编号），保存后本机自动启用；"
                        "如未生效，请重启本机。",
    "debug_banner": "调试模式 · F1–F5 切换页面 · F12 退出",
}


def text(key: str, **values: object) -> str:
    """The customer-facing text for ``key`` with its placeholders filled."""
    return STRINGS[key].format(**values)


def duration(seconds: float) -> str:
    """Elapsed time as H:MM:SS, the way a café customer reads a timer."""
    total = max(0, int(seconds))
    return f"{total // 3600}:{total % 3600 // 60:02d}:{total % 60:02d}"


def money(amount: float) -> str:
    return text("money", amount=f"{amount:.2f}")


def service_line(number: str | None) -> str:
    """The service number line shown on every page."""
    return text("service", number=number) if number else text("service_none")


def summary(key: str, elapsed_s: float, cost: float) -> str:
    """A "duration … cost …" line (``end_summary`` or ``unpaid_summary``)."""
    return text(key, duration=duration(elapsed_s), cost=money(cost))
