# ruff: noqa: E501
"""The words of the profile's name and e-mail address forms and of the page behind the e-mail change link (keys
"profile.name…", "profile.email…", "confirm_email." and their errors)."""

EN: dict[str, str] = {
    "profile.name": "Change the name",
    "profile.new_full_name": "Full name",
    "profile.full_name_hint": "Leave it empty to have none.",
    "profile.name_submit": "Save the name",
    "profile.name_changed": "Your name is saved.",
    "profile.email_change": "Change the e-mail address",
    "profile.email_change_intro": "We send a link to the new address; your address changes when you open it. Your login stays the same.",
    "profile.new_email": "New e-mail address",
    "profile.email_password": "Your password",
    "profile.email_submit": "Send the link",
    "profile.email_link_sent": "We sent a link to {email}; your address changes when you open it. The link works until {valid_until}.",
    "error.new_email.value_error": "This is not a valid e-mail address.",
    "error.new_email.conflict": "An account with this e-mail address already exists.",
    "error.new_email.same_email": "This is your address already.",
    "error.password.wrong_password": "The password is wrong.",
    "confirm_email.title": "New e-mail address",
    "confirm_email.done": "Thank you. {email} is the e-mail address of your account now; log in with your login as before.",
    "confirm_email.invalid": "This link is unknown, already used, replaced by a newer one or expired. Log in and ask for the change again on your profile.",
    "confirm_email.taken": "Another account uses this address now, so it cannot become yours. Log in and choose another one on your profile.",
}

RU: dict[str, str] = {
    "profile.name": "Изменить имя",
    "profile.new_full_name": "Полное имя",
    "profile.full_name_hint": "Оставьте пустым, если имя не нужно.",
    "profile.name_submit": "Сохранить имя",
    "profile.name_changed": "Имя сохранено.",
    "profile.email_change": "Изменить адрес электронной почты",
    "profile.email_change_intro": "Мы отправим ссылку на новый адрес; адрес сменится, когда вы её откроете. Логин останется прежним.",
    "profile.new_email": "Новый адрес электронной почты",
    "profile.email_password": "Ваш пароль",
    "profile.email_submit": "Отправить ссылку",
    "profile.email_link_sent": "Мы отправили ссылку на {email}; адрес сменится, когда вы её откроете. Ссылка действует до {valid_until}.",
    "error.new_email.value_error": "Это не адрес электронной почты.",
    "error.new_email.conflict": "Учётная запись с этим адресом уже существует.",
    "error.new_email.same_email": "Это и так ваш адрес.",
    "error.password.wrong_password": "Неверный пароль.",
    "confirm_email.title": "Новый адрес электронной почты",
    "confirm_email.done": "Спасибо. Теперь {email} — адрес электронной почты вашей учётной записи; входите со своим логином, как раньше.",
    "confirm_email.invalid": "Ссылка неизвестна, уже использована, заменена новой или устарела. Войдите и запросите смену адреса в профиле ещё раз.",
    "confirm_email.taken": "Этот адрес теперь использует другая учётная запись, поэтому он не может стать вашим. Войдите и выберите другой адрес в профиле.",
}
