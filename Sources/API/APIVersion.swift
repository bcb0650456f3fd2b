/// netstatd's version: the one place it is defined. `netstatd --version` prints it,
/// /api/v1/status serves it, history records it per run, and scripts/package names
/// the .deb after it.
public enum APIVersion {
    /// Semantic version of this build.
    public static let string = "0.1.0"
}
