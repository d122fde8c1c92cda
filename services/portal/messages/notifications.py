# ruff: noqa: E501
"""The words of the notification settings page and of the release e-mails' unsubscribe page (keys
"notifications." and "unsubscribe.")."""

EN: dict[str, str] = {
    "notifications.title": "Notification settings",
    "notifications.legend": "E-mails about new releases",
    "notifications.release_news": "Send me e-mails about new releases",
    "notifications.release_news_hint": "New releases of the configurations your subscribers are registered for, and new versions of the platform.",
    "notifications.configurations": "Releases of your configurations",
    "notifications.configurations_hint": "E-mails about new releases of the checked configurations only. A configuration registered later is included until you uncheck it.",
    "notifications.always": "E-mails about your account, invitations and contracts are always sent.",
    "notifications.save": "Save the settings",
    "notifications.saved": "The settings are saved.",
    "notifications.to_profile": "Back to your profile",
    "unsubscribe.title.confirm": "Stop e-mails about new releases?",
    "unsubscribe.text.confirm": "You will no longer receive e-mails about new releases. You can turn them on again in your notification settings.",
    "unsubscribe.confirm": "Yes, stop these e-mails",
    "unsubscribe.title.already": "You are already unsubscribed",
    "unsubscribe.text.already": "You do not receive e-mails about new releases. You can turn them on again in your notification settings.",
    "unsubscribe.title.done": "You are unsubscribed",
    "unsubscribe.text.done": "You will no longer receive e-mails about new releases. You can turn them on again in your notification settings.",
    "unsubscribe.title.invalid": "This link does not work",
    "unsubscribe.text.invalid": "The unsubscribe link is damaged or was not sent by ITS Portal. Open the link from the e-mail exactly as it is, or turn the e-mails off in your notification settings.",
    "unsubscribe.settings": "Notification settings",
}

RU: dict[str, str] = {
    "notifications.title": "Настройки уведомлений",
    "notifications.legend": "Письма о новых релизах",
    "notifications.release_news": "Присылать письма о новых релизах",
    "notifications.release_news_hint": "Новые релизы конфигураций, для которых зарегистрированы ваши абоненты, и новые версии платформы.",
    "notifications.configurations": "Релизы ваших конфигураций",
    "notifications.configurations_hint": "Письма о новых релизах приходят только по отмеченным конфигурациям. Конфигурация, зарегистрированная позже, включена, пока вы не снимете отметку.",
    "notifications.always": "Письма о вашей учётной записи, приглашениях и договорах приходят всегда.",
    "notifications.save": "Сохранить настройки",
    "notifications.saved": "Настройки сохранены.",
    "notifications.to_profile": "Вернуться в профиль",
    "unsubscribe.title.confirm": "Больше не присылать письма о новых релизах?",
    "unsubscribe.text.confirm": "Письма о новых релизах перестанут приходить. Снова включить их можно в настройках уведомлений.",
    "unsubscribe.confirm": "Да, больше не присылать",
    "unsubscribe.title.already": "Вы уже отписаны",
    "unsubscribe.text.already": "Письма о новых релизах вам не приходят. Снова включить их можно в настройках уведомлений.",
    "unsubscribe.title.done": "Вы отписались",
    "unsubscribe.text.done": "Письма о новых релизах больше не будут приходить. Снова включить их можно в настройках уведомлений.",
    "unsubscribe.title.invalid": "Ссылка не работает",
    "unsubscribe.text.invalid": "Ссылка для отписки повреждена или отправлена не порталом ИТС. Откройте ссылку из письма в точности как она есть или отключите письма в настройках уведомлений.",
    "unsubscribe.settings": "Настройки уведомлений",
}
