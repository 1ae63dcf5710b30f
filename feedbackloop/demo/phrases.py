"""Phrase banks for templated demo feedback: several phrasings per issue, per language, per product kind.

Placeholders in braces ({device}, {thing}, {amount}, ...) are filled per item, so the same complaint
comes out with different nouns, devices and amounts. Keys of ``REVIEW`` are ``(language, category)``;
a category entry maps a product kind (``shop``, ``bank``, ``dashboard``) or ``*`` (any) to a list.
Languages without an entry for a category fall back to English, as real users often do.
"""

from __future__ import annotations

Bank = dict[str, list[str]]

# Nouns that make the same sentence belong to one product; chosen per item.
SLOTS: dict[str, dict[str, list[str]]] = {
    "shop": {
        "thing": ["order", "parcel", "delivery", "basket", "return", "wishlist"],
        "screen": ["checkout", "search results", "product page", "basket", "order history", "home feed"],
        "feature": [
            "a dark mode",
            "price-drop alerts",
            "Apple Pay at checkout",
            "a way to split payments",
            "saved filters in search",
            "live order tracking on a map",
            "a size guide per brand",
            "gift wrapping options",
        ],
    },
    "bank": {
        "thing": ["transfer", "card payment", "standing order", "direct debit", "statement", "savings pot"],
        "screen": ["balance screen", "transfers tab", "card settings", "statements", "payee list"],
        "feature": [
            "a dark mode",
            "editable spending categories",
            "instant notifications for card payments",
            "CSV export of statements",
            "joint accounts",
            "round-ups into savings",
            "a balance widget",
        ],
    },
    "dashboard": {
        "thing": ["report", "dashboard", "CSV export", "chart", "scheduled report", "workspace"],
        "screen": ["reports page", "dashboard list", "export dialog", "settings page", "chart editor"],
        "feature": [
            "SSO with Okta",
            "scheduled exports to S3",
            "a dark mode",
            "custom date ranges",
            "row-level permissions",
            "an API for report data",
            "Slack alerts",
        ],
    },
}

TITLES: dict[tuple[str, str], Bank] = {
    ("en", "praise"): {
        "*": ["Love it", "Great app", "Five stars", "Does the job", "Really handy", "Works great", "Super easy"],
        "bank": ["Best banking app I've used", "Finally a bank app that works"],
        "shop": ["My go-to shopping app", "Easy shopping"],
    },
    ("en", "feature_request"): {
        "*": ["Please add {feature}", "Feature request", "Almost perfect", "One thing missing"]
    },
    ("en", "ux"): {"*": ["Confusing redesign", "Hard to find things", "Too many taps", "Meh", "Layout is a mess"]},
    ("en", "bug"): {"*": ["Keeps crashing", "Buggy", "Broken after update", "Doesn't work", "Glitchy"]},
    ("en", "performance"): {"*": ["So slow", "Laggy", "Takes forever", "Battery hog"]},
    ("en", "billing"): {"*": ["Billing problem", "Wrong charge", "Where is my refund?", "Hidden fees"]},
    ("en", "login"): {"*": ["Can't log in", "Login issues", "Logged out constantly", "2FA code never arrives"]},
    ("en", "onboarding"): {"*": ["Sign-up is painful", "Verification hell", "Setup takes ages"]},
    ("en", "trust"): {"*": ["Privacy concerns", "Too many permissions", "Not safe", "Data hungry"]},
    ("en", "account_management"): {"*": ["Can't delete my account", "Account settings broken", "Can't change email"]},
    ("en", "billing_incident"): {
        "*": ["Charged twice!!", "Double charged", "Payment failed but money taken", "Charged 2x", "Checkout broken"],
    },
    ("en", "login_incident"): {
        "*": ["Can't log in", "Login broken", "Locked out", "Is it down?", "Face ID login fails"]
    },
    ("en", "perf_incident"): {"*": ["Dashboard very slow", "Reports timing out", "Everything is slow this week"]},
    ("de", "praise"): {"*": ["Super App", "Top", "Sehr gut", "Klappt einwandfrei"]},
    ("de", "bug"): {"*": ["Stürzt ständig ab", "Fehlerhaft", "Seit Update kaputt"]},
    ("de", "billing_incident"): {"*": ["Doppelt abgebucht!", "Zahlung fehlgeschlagen, Geld weg"]},
    ("de", "login_incident"): {"*": ["Login geht nicht", "Komme nicht rein"]},
    ("fr", "praise"): {"*": ["Super appli", "Parfait", "Très pratique"]},
    ("fr", "bug"): {"*": ["Plante sans arrêt", "Bugs partout"]},
    ("fr", "billing_incident"): {"*": ["Débité deux fois !", "Paiement échoué mais débité"]},
    ("fr", "login_incident"): {"*": ["Connexion impossible", "Impossible de me connecter"]},
    ("es", "praise"): {"*": ["Genial", "Muy buena app", "Perfecta"]},
    ("es", "bug"): {"*": ["Se cierra sola", "Llena de errores"]},
    ("es", "billing_incident"): {"*": ["¡Me cobraron dos veces!", "Pago fallido pero cobrado"]},
    ("es", "login_incident"): {"*": ["No puedo iniciar sesión", "Login roto"]},
    ("pt", "praise"): {"*": ["Ótimo app", "Muito bom", "Excelente"]},
    ("pt", "bug"): {"*": ["Trava toda hora", "Cheio de bugs"]},
    ("pt", "billing_incident"): {"*": ["Cobrado duas vezes!", "Pagamento falhou e cobrou"]},
    ("pt", "login_incident"): {"*": ["Não consigo entrar", "Login não funciona"]},
    ("ja", "praise"): {"*": ["便利です", "最高", "使いやすい"]},
    ("ja", "bug"): {"*": ["落ちる", "不具合多い"]},
    ("ja", "billing_incident"): {"*": ["二重請求されました", "決済エラーなのに引き落とし"]},
    ("ja", "login_incident"): {"*": ["ログインできない", "ログイン障害？"]},
}

REVIEW: dict[tuple[str, str], Bank] = {
    ("en", "praise"): {
        "*": [
            "Really easy to use and the {screen} is clean.",
            "I use {app} every week and it just works.",
            "Quick, reliable and the new design looks great.",
            "Customer support sorted my issue in minutes.",
            "Much better than the website.",
            "Everything I need in one place.",
            "Love how fast the {screen} loads now.",
            "Simple, fast, no nonsense.",
            "Works perfectly on my {device}.",
            "Been using it for years, never let me down.",
        ],
        "shop": [
            "Never had a problem with a {thing} so far.",
            "Deliveries are always on time and returns are painless.",
            "Found exactly what I was looking for in seconds.",
        ],
        "bank": [
            "Sending money takes two taps.",
            "Instant notifications for every card payment, love it.",
            "The spending overview actually helped me save.",
        ],
        "dashboard": ["Our weekly reports are so much easier now.", "The new chart editor is great."],
    },
    ("en", "feature_request"): {
        "*": [
            "Would be perfect with {feature}.",
            "Please add {feature}, it's the only thing I miss.",
            "Any plans for {feature}?",
            "Good app but it really needs {feature}.",
            "I'd honestly pay extra for {feature}.",
            "Still waiting for {feature} after two years.",
        ],
    },
    ("en", "ux"): {
        "*": [
            "The new {screen} is confusing.",
            "Too many taps to get to the {screen}.",
            "Text is tiny on my {device} and I can't make it bigger.",
            "Why did you move the {screen}? I can never find it now.",
            "The redesign looks nice but it's harder to use.",
            "Buttons are too close together, I keep hitting the wrong one.",
            "Dark mode makes some text unreadable.",
            "Too many pop-ups asking me to rate the app.",
        ],
    },
    ("en", "bug"): {
        "*": [
            "The app crashes when I open the {screen}.",
            "Since the last update the {screen} is just blank.",
            "Notifications arrive hours late or not at all.",
            "Keeps freezing on my {device}.",
            "Images don't load half the time.",
            "I get 'Something went wrong' whenever I open a {thing}.",
            "Crashes on startup on my {device}, reinstalling didn't help.",
        ],
        "shop": ["Search returns nothing even for things I know you sell.", "Order status stuck on 'processing'."],
        "bank": ["My balance shows the wrong amount until I restart the app.", "Payees list disappeared."],
    },
    ("en", "performance"): {
        "*": [
            "The app is so slow lately.",
            "Takes ages to load the {screen}.",
            "Drains the battery on my {device}.",
            "Spinning wheel for 30 seconds every time I open it.",
            "Laggy scrolling, feels ancient.",
        ],
    },
    ("en", "billing"): {
        "shop": [
            "I was charged but the {thing} never showed up in my orders.",
            "My refund still isn't on my card after two weeks.",
            "The coupon was accepted but the discount didn't apply.",
            "Payment failed with my Visa, same card works on the website.",
            "Charged a delivery fee even though I have a membership.",
        ],
        "bank": [
            "Charged a fee for a transfer that should be free.",
            "A card payment was declined but the money is gone from my balance.",
            "The monthly fee went up without any notice.",
            "Direct debit was taken twice this month, took a week to fix.",
        ],
        "dashboard": [
            "Our invoice shows more seats than we have.",
            "Can't update the credit card for our subscription.",
            "We were billed for the annual plan instead of monthly.",
        ],
    },
    ("en", "login"): {
        "*": [
            "Can't log in, it keeps saying my password is wrong.",
            "The verification code never arrives.",
            "Face ID stopped working, I have to type my password every time.",
            "Logged out every single day for no reason.",
            "The password reset link has expired by the time it arrives.",
        ],
    },
    ("en", "onboarding"): {
        "*": [
            "Sign-up asks for way too much information.",
            "The tutorial can't be skipped.",
            "Took me 20 minutes to set up an account.",
        ],
        "bank": ["Identity verification failed three times with my passport.", "Video ID check never connects."],
        "dashboard": ["Inviting my team is confusing.", "Connecting our data source took a full day."],
    },
    ("en", "trust"): {
        "*": [
            "Why does the app need access to my contacts?",
            "Got a phishing email pretending to be {app}, be careful.",
            "Not comfortable with how much data you collect.",
            "Someone got into my account and support wasn't helpful.",
            "Way too many tracking permissions.",
        ],
    },
    ("en", "account_management"): {
        "*": [
            "How do I delete my account? I can't find it anywhere.",
            "Can't change my email address in the app.",
            "Tried to close my account, support keeps sending me in circles.",
            "Changing my phone number requires calling support, seriously?",
        ],
        "shop": ["Two accounts got merged and I lost my order history."],
    },
    # Incident complaints: every phrasing carries one of the incident's evidence keywords.
    ("en", "billing_incident"): {
        "*": [
            "Tried to pay for my order, got 'payment failed', and now I see two charges of {amount} on my card.",
            "Charged twice for the same order after the update.",
            "The app said payment failed so I tried again. Now I've been charged twice and have two orders.",
            "Checkout keeps failing with a payment error but the money leaves my account every time.",
            "Got a double charge of {amount}, support says the refund takes 5-10 days. Unacceptable.",
            "Since version {version} the payment step errors out and my bank shows two pending charges.",
            "Paid once, charged twice. Had to call my bank.",
            "Payment failed three times, then I found three charges on my statement.",
        ],
    },
    ("en", "login_incident"): {
        "*": [
            "Can't log in at all this morning, it just says 'Something went wrong'.",
            "Login fails with Face ID and with my passcode.",
            "Stuck on the login screen, it spins and then kicks me back out.",
            "Every login attempt gives me an error and I need to pay rent today!",
            "App says my session expired every time I try to log in.",
            "Unable to log in for hours now. Is the service down?",
            "Cannot log in on my {device}, the website works fine.",
            "Reinstalled the app and still can't log in.",
        ],
    },
    ("en", "perf_incident"): {
        "*": [
            "The dashboard takes forever to load since this week.",
            "Reports time out after a minute of spinning.",
            "Loading a {thing} takes 30+ seconds now, it used to be instant.",
            "Our team can't work, every page of the dashboard is very slow.",
            "CSV exports take minutes and sometimes fail with a 504 timeout.",
            "Charts get slower every day, is something wrong on your side?",
        ],
    },
    ("de", "praise"): {
        "*": [
            "Endlich eine App, die einfach funktioniert.",
            "Alles Wichtige auf einen Blick.",
            "Läuft super auf meinem {device}.",
            "Viel besser als die Webseite.",
            "Einfach zu bedienen und sehr übersichtlich.",
            "Nutze {app} jede Woche, läuft stabil.",
            "Schnell, zuverlässig, gutes Design.",
            "Der Support hat mir sofort geholfen.",
        ],
    },
    ("de", "bug"): {
        "*": [
            "Bilder laden oft nicht.",
            "Beim Öffnen von {screen} kommt nur 'Etwas ist schiefgelaufen'.",
            "Die App stürzt beim Öffnen ab.",
            "Seit dem letzten Update bleibt der Bildschirm weiß.",
            "Benachrichtigungen kommen Stunden zu spät.",
            "Friert auf meinem {device} ständig ein.",
        ],
    },
    ("de", "ux"): {"*": ["Das neue Design ist unübersichtlich.", "Viel zu viele Klicks für einfache Dinge."]},
    ("de", "feature_request"): {"*": ["Bitte {feature} einbauen!", "Mir fehlt nur noch {feature}."]},
    ("de", "performance"): {"*": ["Die App ist extrem langsam geworden.", "Laden dauert ewig."]},
    ("de", "billing"): {"*": ["Gebühr abgebucht, die es nicht geben sollte.", "Erstattung kommt nicht an."]},
    ("de", "login"): {"*": ["Der Bestätigungscode kommt nie an.", "Werde ständig ausgeloggt."]},
    ("de", "billing_incident"): {
        "*": [
            "Zahlung fehlgeschlagen, aber {amount} wurden zweimal abgebucht.",
            "Nach dem Update doppelt abgebucht worden!",
            "Beim Bezahlen kommt ein Fehler, trotzdem ist das Geld doppelt weg.",
        ],
    },
    ("de", "login_incident"): {
        "*": [
            "Login geht seit heute Morgen nicht mehr, nur 'Etwas ist schiefgelaufen'.",
            "Kann mich nicht einloggen, weder mit Face ID noch mit PIN.",
            "Anmeldung schlägt ständig fehl. Ist der Dienst down?",
        ],
    },
    ("de", "perf_incident"): {"*": ["Das Dashboard lädt seit Tagen extrem langsam.", "Berichte laufen in Timeout."]},
    ("fr", "praise"): {
        "*": [
            "Enfin une appli qui marche sans prise de tête.",
            "Tout ce dont j'ai besoin au même endroit.",
            "Fonctionne parfaitement sur mon {device}.",
            "Le service client m'a répondu en quelques minutes.",
            "Appli simple et efficace.",
            "J'utilise {app} toutes les semaines, rien à redire.",
            "Rapide et fiable.",
        ],
    },
    ("fr", "bug"): {
        "*": [
            "Les notifications arrivent avec des heures de retard.",
            "L'appli se fige sur mon {device}.",
            "L'appli plante à l'ouverture.",
            "Depuis la mise à jour, écran blanc.",
        ]
    },
    ("fr", "ux"): {"*": ["La nouvelle interface est confuse.", "Trop de clics pour tout."]},
    ("fr", "feature_request"): {"*": ["Merci d'ajouter {feature} !", "Il manque juste {feature}."]},
    ("fr", "performance"): {"*": ["L'appli est devenue très lente.", "Chargement interminable."]},
    ("fr", "login"): {"*": ["Le code de vérification n'arrive jamais.", "Déconnecté tous les jours."]},
    ("fr", "billing_incident"): {
        "*": [
            "Paiement échoué mais j'ai été débité deux fois de {amount}.",
            "Débité deux fois pour la même commande depuis la mise à jour.",
            "Erreur de paiement à chaque essai, et l'argent part quand même.",
        ],
    },
    ("fr", "login_incident"): {
        "*": [
            "Impossible de me connecter depuis ce matin.",
            "La connexion échoue avec Face ID et avec le code.",
            "Connexion impossible, le service est en panne ?",
        ],
    },
    ("es", "praise"): {
        "*": [
            "Por fin una app que funciona sin complicaciones.",
            "Todo lo que necesito en un solo sitio.",
            "Funciona de maravilla en mi {device}.",
            "El soporte me respondió en minutos.",
            "Muy fácil de usar.",
            "Uso {app} cada semana y funciona perfecto.",
            "Rápida y fiable.",
        ]
    },
    ("es", "bug"): {
        "*": [
            "Las notificaciones llegan con horas de retraso.",
            "Se congela en mi {device}.",
            "La app se cierra al abrirla.",
            "Desde la actualización la pantalla queda en blanco.",
        ]
    },
    ("es", "ux"): {"*": ["El nuevo diseño es confuso.", "Demasiados pasos para todo."]},
    ("es", "feature_request"): {"*": ["Por favor añadan {feature}.", "Solo le falta {feature}."]},
    ("es", "performance"): {"*": ["La app va lentísima.", "Tarda muchísimo en cargar."]},
    ("es", "login"): {"*": ["El código de verificación nunca llega.", "Me cierra la sesión cada día."]},
    ("es", "billing_incident"): {
        "*": [
            "El pago falló pero me cobraron dos veces {amount}.",
            "Me cobraron dos veces el mismo pedido después de actualizar.",
            "Error de pago en cada intento y aun así me cobran.",
        ],
    },
    ("es", "login_incident"): {
        "*": [
            "No puedo iniciar sesión desde esta mañana.",
            "El inicio de sesión falla con Face ID y con el código.",
            "Imposible iniciar sesión, ¿está caído el servicio?",
        ],
    },
    ("pt", "praise"): {
        "*": [
            "Finalmente um app que funciona sem complicação.",
            "Tudo o que preciso num só lugar.",
            "Funciona perfeitamente no meu {device}.",
            "O suporte me respondeu em minutos.",
            "Muito fácil de usar.",
            "Uso o {app} toda semana, funciona bem.",
            "Rápido e confiável.",
        ]
    },
    ("pt", "bug"): {
        "*": [
            "As notificações chegam com horas de atraso.",
            "Congela no meu {device}.",
            "O app fecha sozinho ao abrir.",
            "Depois da atualização a tela fica branca.",
        ]
    },
    ("pt", "ux"): {"*": ["O novo layout é confuso.", "Muitos cliques para tudo."]},
    ("pt", "feature_request"): {"*": ["Por favor adicionem {feature}.", "Só falta {feature}."]},
    ("pt", "performance"): {"*": ["O app está muito lento.", "Demora demais para carregar."]},
    ("pt", "login"): {"*": ["O código de verificação nunca chega.", "Sou deslogado todo dia."]},
    ("pt", "billing_incident"): {
        "*": [
            "O pagamento falhou mas fui cobrado duas vezes {amount}.",
            "Cobrado duas vezes pelo mesmo pedido depois da atualização.",
            "Erro no pagamento e mesmo assim cobraram em dobro.",
        ],
    },
    ("pt", "login_incident"): {
        "*": [
            "Não consigo entrar no app desde cedo.",
            "O login falha com Face ID e com a senha.",
            "Impossível fazer login, o serviço caiu?",
        ],
    },
    ("ja", "praise"): {
        "*": [
            "必要な機能がすべて揃っています。",
            "{device}でもサクサク動きます。",
            "サポートの対応が早くて助かりました。",
            "とても使いやすいです。",
            "毎週{app}を使っていますが快適です。",
            "速くて安定しています。",
        ]
    },
    ("ja", "bug"): {
        "*": [
            "通知が数時間遅れて届きます。",
            "{device}でフリーズします。",
            "起動するとすぐに落ちます。",
            "アップデート後、画面が真っ白になります。",
        ]
    },
    ("ja", "ux"): {"*": ["新しいデザインは分かりにくいです。", "操作の手順が多すぎます。"]},
    ("ja", "feature_request"): {"*": ["{feature}を追加してほしいです。"]},
    ("ja", "performance"): {"*": ["最近とても重いです。", "読み込みに時間がかかりすぎます。"]},
    ("ja", "login"): {"*": ["認証コードが届きません。", "毎日ログアウトされます。"]},
    ("ja", "billing_incident"): {
        "*": ["決済エラーと表示されたのに{amount}が二重請求されました。", "同じ注文で二回引き落とされました。"],
    },
    ("ja", "login_incident"): {
        "*": [
            "今朝からログインできません。",
            "Face IDでもパスコードでもログインできません。",
            "ログインできない。障害ですか？",
        ],
    },
}

# Extra sentences that make templated text less uniform: "any" fits every review, "neg" only complaints.
DETAILS: dict[str, dict[str, list[str]]] = {
    "en": {
        "any": ["On my {device}.", "Using my {device}, app version {version}.", "", "", ""],
        "neg": ["Happened twice this week.", "My partner has the same problem.", "Worked fine before the update."],
    },
    "de": {"any": ["Auf meinem {device}.", "Version {version}.", "", ""], "neg": ["Vor dem Update ging es noch."]},
    "fr": {"any": ["Sur mon {device}.", "Version {version}.", "", ""], "neg": ["Avant la mise à jour, ça marchait."]},
    "es": {"any": ["En mi {device}.", "Versión {version}.", "", ""], "neg": ["Antes de la actualización iba bien."]},
    "pt": {"any": ["No meu {device}.", "Versão {version}.", "", ""], "neg": ["Antes da atualização funcionava."]},
    "ja": {"any": ["{device}を使っています。", "", ""], "neg": ["アップデート前は問題ありませんでした。"]},
}

# Closing words by mood: "pos" for 4-5 stars, "neg" for 1-2, "mid" for 3.
CLOSERS: dict[str, dict[str, list[str]]] = {
    "en": {
        "pos": ["", "", "Thanks!", "Keep it up!", "Recommended.", "10/10"],
        "mid": ["", "", "Otherwise fine.", "Could be better."],
        "neg": ["", "Please fix.", "Fix it please!", "Disappointed.", "Very frustrating."],
    },
    "de": {"pos": ["", "Danke!", "Weiter so!"], "mid": ["", "Geht so."], "neg": ["", "Bitte beheben.", "Schade."]},
    "fr": {
        "pos": ["", "Merci !", "Bravo !"],
        "mid": ["", "Peut mieux faire."],
        "neg": ["", "Merci de corriger.", "Dommage."],
    },
    "es": {
        "pos": ["", "¡Gracias!", "¡Genial!"],
        "mid": ["", "Mejorable."],
        "neg": ["", "Arréglenlo, por favor.", "Una pena."],
    },
    "pt": {
        "pos": ["", "Obrigado!", "Recomendo!"],
        "mid": ["", "Pode melhorar."],
        "neg": ["", "Por favor corrijam.", "Decepcionado."],
    },
    "ja": {"pos": ["", "ありがとうございます！"], "mid": ["", "まあまあです。"], "neg": ["", "早く直してください。"]},
}

INCIDENT_DEMANDS: dict[str, dict[str, list[str]]] = {
    "en": {
        "billing_incident": ["I want my money back.", "Refund me!", "Don't update!", "Deleting until this is fixed."],
        "*": ["Fix this now.", "Unacceptable.", "Please fix this ASAP.", "Not even a status update?"],
    },
    "de": {"billing_incident": ["Ich will mein Geld zurück."], "*": ["Sofort beheben!", "Inakzeptabel."]},
    "fr": {"billing_incident": ["Je veux être remboursé."], "*": ["Corrigez ça !", "Inadmissible."]},
    "es": {"billing_incident": ["Quiero mi dinero."], "*": ["¡Arréglenlo ya!", "Inaceptable."]},
    "pt": {"billing_incident": ["Quero meu dinheiro de volta."], "*": ["Resolvam isso!", "Inaceitável."]},
    "ja": {"billing_incident": ["返金してください。"], "*": ["至急対応してください。"]},
}

GREETINGS: dict[str, list[str]] = {
    "en": ["Hi,", "Hello,", "Hi support team,", "Hello there,", "Hi {app} team,", ""],
    "de": ["Hallo,", "Guten Tag,", "Sehr geehrte Damen und Herren,"],
    "fr": ["Bonjour,", "Bonjour à l'équipe,"],
    "es": ["Hola,", "Buenos días,"],
    "pt": ["Olá,", "Bom dia,"],
    "ja": ["お世話になっております。", "こんにちは。"],
}

ASKS: dict[str, list[str]] = {
    "en": [
        "Can you please look into this?",
        "What should I do?",
        "Please help, this is urgent.",
        "Could someone get back to me?",
        "I've attached a screenshot.",
    ],
    "de": ["Können Sie das bitte prüfen?", "Bitte um schnelle Hilfe."],
    "fr": ["Pouvez-vous regarder ?", "Merci de m'aider rapidement."],
    "es": ["¿Pueden revisarlo?", "Necesito ayuda urgente."],
    "pt": ["Podem verificar?", "Preciso de ajuda urgente."],
    "ja": ["確認をお願いします。", "至急対応をお願いします。"],
}

AGENT_REPLIES: dict[str, dict[str, list[str]]] = {
    "en": {
        "*": [
            "Hi {name}, thanks for reaching out. I've passed this to our team and will update you shortly.",
            "Hello {name}, sorry for the trouble. Could you send us a screenshot and your app version?",
            "Hi {name}, thanks for your patience. This should be resolved now, please let us know if not.",
        ],
        "billing": ["Hi {name}, I've refunded the amount; it can take 3-5 business days to show on your statement."],
    },
    "de": {
        "*": [
            "Hallo {name}, danke für Ihre Nachricht. Wir prüfen das und melden uns.",
            "Hallo {name}, das Problem sollte behoben sein. Bitte geben Sie Bescheid, falls nicht.",
        ],
        "billing": ["Hallo {name}, wir haben den Betrag erstattet. Die Gutschrift dauert 3-5 Werktage."],
    },
    "fr": {"*": ["Bonjour {name}, merci pour votre message. Nous examinons le problème et revenons vers vous."]},
    "es": {"*": ["Hola {name}, gracias por escribirnos. Estamos revisando el problema y le contactaremos."]},
    "pt": {"*": ["Olá {name}, obrigado pelo contato. Estamos verificando e retornaremos em breve."]},
    "ja": {"*": ["{name}様、お問い合わせありがとうございます。確認の上、ご連絡いたします。"]},
}

INTERNAL_NOTES: dict[str, list[str]] = {
    "*": [
        "Escalated to tier 2.",
        "Customer asked for a callback.",
        "Tagged as product feedback.",
        "Duplicate of an older ticket from the same customer.",
        "Macro 'troubleshooting basics' applied.",
    ],
    "billing_incident": [
        "Linked to PAY-{ticket_ref}: duplicate captures on Android {version}.",
        "Refund issued for the duplicate charge. Known issue, see status page.",
        "Same pattern as the other double-charge tickets today.",
    ],
    "login_incident": [
        "Auth gateway errors for iOS, engineering is on it.",
        "Known login outage, macro 'login incident' applied.",
    ],
    "perf_incident": ["Slow reports reported by several workspaces, linked to PERF-{ticket_ref}."],
}

SIGNATURES: dict[str, list[str]] = {
    "en": ["--\nSent from my iPhone", "Best regards,\n{name}", "Thanks,\n{name}", "Cheers\n{name}\n--\n{phone}"],
    "de": ["Mit freundlichen Grüßen\n{name}", "--\nVon meinem iPhone gesendet"],
    "fr": ["Cordialement,\n{name}", "--\nEnvoyé de mon iPhone"],
    "es": ["Saludos,\n{name}", "--\nEnviado desde mi iPhone"],
    "pt": ["Atenciosamente,\n{name}", "--\nEnviado do meu iPhone"],
    "ja": ["よろしくお願いいたします。\n{name}"],
}

PII_SENTENCES: dict[str, list[str]] = {
    "en": [
        "You can reach me at {email}.",
        "Call me on {phone}.",
        "My name is {name} and I've been a customer for years.",
        "Please reply to {email} rather than this address.",
    ],
    "de": ["Erreichbar unter {phone}.", "Meine E-Mail: {email}"],
    "fr": ["Mon numéro : {phone}.", "Mon e-mail : {email}"],
    "es": ["Mi teléfono es {phone}.", "Mi correo: {email}"],
    "pt": ["Meu telefone: {phone}.", "Meu e-mail: {email}"],
    "ja": ["連絡先：{phone}", "メール：{email}"],
}

DEVELOPER_REPLIES = [
    "Thanks for the kind words!",
    "Sorry to hear that. Please contact support from the app menu so we can help.",
    "We're sorry for the trouble. A fix is on its way in the next update.",
    "Thanks for the feedback, we've shared it with the team.",
]

FIRST_NAMES: dict[str, list[str]] = {
    "en": ["Emma", "Liam", "Olivia", "Noah", "Ava", "James", "Sophia", "Lucas", "Mia", "Ethan", "Chloe", "Jack"],
    "de": ["Lena", "Jonas", "Mia", "Felix", "Hannah", "Lukas", "Lea", "Paul", "Sophie", "Jürgen"],
    "fr": ["Camille", "Louis", "Chloé", "Hugo", "Léa", "Jules", "Manon", "Théo"],
    "es": ["Lucía", "Hugo", "Martina", "Mateo", "Sofía", "Pablo", "Valentina", "Diego"],
    "pt": ["Ana", "João", "Maria", "Pedro", "Beatriz", "Lucas", "Júlia", "Gabriel"],
    "ja": ["Yuki", "Haruto", "Sakura", "Ren", "Aoi", "Sota", "Hina", "Kaito"],
}

LAST_NAMES: dict[str, list[str]] = {
    "en": ["Smith", "Johnson", "Brown", "Taylor", "Wilson", "Davies", "Clark", "Walker", "Hughes", "Patel"],
    "de": ["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Becker", "Hoffmann", "Koch"],
    "fr": ["Martin", "Bernard", "Dubois", "Lefèvre", "Moreau", "Laurent", "Girard"],
    "es": ["García", "López", "Martínez", "Sánchez", "Romero", "Navarro", "Torres"],
    "pt": ["Silva", "Santos", "Oliveira", "Souza", "Pereira", "Costa", "Almeida"],
    "ja": ["Sato", "Suzuki", "Takahashi", "Tanaka", "Watanabe", "Ito", "Yamamoto"],
}

# Phone numbers in ranges reserved for fiction (US 555-01xx, UK Ofcom drama numbers, ...).
PHONE_FORMATS: dict[str, list[str]] = {
    "en": ["+1 415 555 01{nn}", "(212) 555-01{nn}", "+44 20 7946 09{nn}", "07700 9000{nn}"],
    "de": ["+49 30 23125 4{nn}", "0152 0123 45{nn}"],
    "fr": ["+33 6 39 98 12 {nn}", "01 99 00 12 {nn}"],
    "es": ["+34 600 000 0{nn}", "91 000 12 {nn}"],
    "pt": ["+55 11 91234-00{nn}", "(21) 99999-00{nn}"],
    "ja": ["090-0000-00{nn}", "+81 3-0000-00{nn}"],
}

EMAIL_DOMAINS = ["example.com", "example.net", "example.org", "mail.example"]
