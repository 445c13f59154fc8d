/// The five ways a certificate stops being demanded, as the Ordos plan's annex 2 lists them
/// (免提交方式: 直接取消, 数据共享, 告知承诺, 部门核验, 其他).
public enum ExemptionMethod: String, Sendable, CaseIterable {
    case directCancel = "direct-cancel"
    case dataSharing = "data-sharing"
    case commitment
    case departmentVerification = "department-verification"
    /// Replaced by another document (a court ruling, an agreement) or any other way.
    case other

    public var chineseLabel: String {
        switch self {
        case .directCancel: "直接取消"
        case .dataSharing: "数据共享"
        case .commitment: "告知承诺"
        case .departmentVerification: "部门核验"
        case .other: "其他"
        }
    }

    /// The method of a catalog item. A cancelled item is classified by its cancellation reason,
    /// the only place the catalog says how the need went away: a reason naming information or data
    /// sharing (信息共享, 数据共享) is `data-sharing`, one naming 告知承诺 is `commitment`, one
    /// naming 部门核验 / 核查 is `department-verification`, one saying it is replaced
    /// (代替, 替代) is `other`, and anything else is `direct-cancel`.
    public static func of(_ item: CertificateType) -> ExemptionMethod {
        switch item.method {
        case .dataSharing: return .dataSharing
        case .departmentVerification: return .departmentVerification
        case .commitment: return .commitment
        case .cancelled:
            let reason = item.cancellation?.reason ?? ""
            if reason.contains("信息共享") || reason.contains("数据共享") { return .dataSharing }
            if reason.contains("告知承诺") { return .commitment }
            if reason.contains("部门核验") || reason.contains("核查") { return .departmentVerification }
            if reason.contains("代替") || reason.contains("替代") { return .other }
            return .directCancel
        }
    }
}

extension VerificationMethod {
    /// 数据共享, 部门核验, 告知承诺, 直接取消.
    public var chineseLabel: String {
        switch self {
        case .dataSharing: "数据共享"
        case .departmentVerification: "部门核验"
        case .commitment: "告知承诺"
        case .cancelled: "已取消"
        }
    }
}

extension CertificateCategory {
    /// The Ordos plan's names: 法定事实, 法律关系, 资格资质, 权属, 其他状态.
    public var chineseLabel: String {
        switch self {
        case .legalFact: "法定事实"
        case .legalRelationship: "法律关系"
        case .qualification: "资格资质"
        case .ownership: "权属"
        case .otherStatus: "其他状态"
        }
    }
}
