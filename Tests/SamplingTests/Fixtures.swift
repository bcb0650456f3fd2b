import Foundation

/// The fixture folder copied into this test bundle.
enum Fixtures {
    static var root: URL { Bundle.module.url(forResource: "Fixtures", withExtension: nil)! }
}
