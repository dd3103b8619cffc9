"""The words on public pages and in field errors, in English and Traditional Chinese."""

from __future__ import annotations

MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "submit": "Send",
        "sending": "Sending…",
        "required": "This field is required.",
        "too_long": "Use at most {max} characters.",
        "email": "Enter an email address like name@example.com.",
        "phone": "Enter a phone number, e.g. +886 2 2345 6789.",
        "one_line": "Keep this on one line.",
        "choice": "Choose one of the listed values.",
        "number": "Enter a whole number.",
        "url": "Enter a web address like https://example.com.",
        "consent": "Please tick the box to agree.",
        "no_links": "Links and HTML are not allowed here.",
        "thanks_title": "Thank you",
        "thanks": "Thank you — we have received your message and will get back to you soon.",
        "fix_errors": "Please correct the fields marked below.",
        "not_found_title": "Form not found",
        "not_found": "This form does not exist or is no longer available.",
        "too_many_title": "Too many submissions",
        "too_many": "Too many submissions from your network. Please wait a minute and try again.",
        "too_large": "The message is too long to be sent.",
        "error_title": "Something went wrong",
        "error": "We could not take your message just now. Please try again in a moment.",
        "forbidden_title": "Not allowed",
        "forbidden": "This form may not be submitted from this site.",
        "optional": "optional",
        "network_error": "The message could not be sent. Check your connection and try again.",
        "not_json": "Send the submission as a JSON object (Content-Type: application/json).",
        "bad_request": "The request could not be read.",
    },
    "zh_Hant": {
        "submit": "送出",
        "sending": "傳送中…",
        "required": "此欄位為必填。",
        "too_long": "最多 {max} 個字元。",
        "email": "請輸入有效的電子郵件，例如 name@example.com。",
        "phone": "請輸入有效的電話號碼，例如 02 2345 6789。",
        "one_line": "此欄位不可換行。",
        "choice": "請從清單中選擇。",
        "number": "請輸入整數。",
        "url": "請輸入網址，例如 https://example.com。",
        "consent": "請勾選同意。",
        "no_links": "此欄位不可包含連結或 HTML。",
        "thanks_title": "感謝您",
        "thanks": "感謝您的來信，我們已收到您的訊息，將盡快與您聯繫。",
        "fix_errors": "請修正下列標示的欄位。",
        "not_found_title": "找不到表單",
        "not_found": "此表單不存在或已停用。",
        "too_many_title": "送出次數過多",
        "too_many": "您的網路送出次數過多，請稍候一分鐘再試。",
        "too_large": "內容過長，無法送出。",
        "error_title": "發生錯誤",
        "error": "目前無法收到您的訊息，請稍後再試。",
        "forbidden_title": "不允許",
        "forbidden": "此表單不可從這個網站送出。",
        "optional": "選填",
        "network_error": "訊息無法送出，請檢查網路連線後再試一次。",
        "not_json": "請以 JSON 物件送出（Content-Type: application/json）。",
        "bad_request": "無法讀取此請求。",
    },
}
HTML_LANG = {"en": "en", "zh_Hant": "zh-Hant-TW"}


def text(language: str, key: str, **values: object) -> str:
    """One message in a language (English when the language or key is unknown)."""
    table = MESSAGES.get(language, MESSAGES["en"])
    message = table.get(key) or MESSAGES["en"][key]
    return message.format(**values) if values else message


def catalogue(language: str) -> dict[str, str]:
    """All messages of a language (what embed.js needs)."""
    return dict(MESSAGES.get(language, MESSAGES["en"]))
