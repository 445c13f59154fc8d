import HeyanDomain
import HeyanHTTP

/// The console's language: Chinese unless `?lang=en` or an `Accept-Language` that starts with English.
enum ConsoleLanguage: String, Sendable {
    case zh, en

    init(_ request: HTTPRequest) {
        if let asked = request.queryValue("lang") {
            self = asked == "en" ? .en : .zh
            return
        }
        let accept = (request.headers["Accept-Language"] ?? "").lowercased()
        self = accept.hasPrefix("en") ? .en : .zh
    }

    /// The `lang` attribute of the page.
    var tag: String { self == .zh ? "zh-CN" : "en" }

    /// `path` keeping the language (only English needs saying).
    func link(_ path: String) -> String {
        guard self == .en else { return path }
        return path + (path.contains("?") ? "&" : "?") + "lang=en"
    }

    /// A label in the page's language.
    func t(_ zh: String, _ en: String) -> String { self == .zh ? zh : en }

    func name(_ name: LocalizedName) -> String { self == .zh ? name.zh : name.en }

    func outcome(_ outcome: Outcome?) -> String {
        switch outcome {
        case .confirmed?: t("属实", "confirmed")
        case .denied?: t("不属实", "denied")
        case .cannotDetermine?: t("无法确定", "cannot determine")
        case nil: t("待答复", "pending")
        }
    }

    func status(_ status: VerificationStatus) -> String {
        switch status {
        case .pending: t("待答复", "pending")
        case .answered: t("已答复", "answered")
        }
    }
}

/// Times as a clerk reads them: Beijing time (UTC+8, no daylight saving), `yyyy-MM-dd HH:mm`.
enum BeijingTime {
    static let offsetSeconds: Int64 = 8 * 3600

    static func format(_ time: Millis) -> String {
        let seconds = time / 1000 + offsetSeconds
        let days = Int(seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400)
        let second = Int(seconds - Int64(days) * 86_400)
        let date = CalendarDate(daysSince1970: days)
        func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(date) \(two(second / 3600)):\(two(second / 60 % 60))"
    }

    /// Days since 1970 in Beijing: the day a CSRF token is bound to.
    static func day(_ time: Millis) -> Int { Int((time / 1000 + offsetSeconds) / 86_400) }
}
