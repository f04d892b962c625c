/// What `globaldns_build_info` reports.
public enum BuildInfo {
    /// The server's version (no release has been cut yet).
    public static let version = "0.1.0-dev"

    /// The Swift compiler this binary was built with, major.minor.
    public static let swiftVersion: String = {
        #if compiler(>=6.5)
        return "6.5+"
        #elseif compiler(>=6.4)
        return "6.4"
        #elseif compiler(>=6.3)
        return "6.3"
        #elseif compiler(>=6.2)
        return "6.2"
        #elseif compiler(>=6.1)
        return "6.1"
        #else
        return "6.0"
        #endif
    }()
}
