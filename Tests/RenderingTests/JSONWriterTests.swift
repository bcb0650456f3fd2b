import Foundation
import Rendering
import Sampling
import Testing

struct JSONWriterTests {
    @Test(arguments: ["plain", "with \"quotes\"", "back\\slash", "tab\there", "new\nline", "ctl\u{01}", "ünïcödé ✓", ""])
    func stringsRoundTrip(text: String) throws {
        var json = JSONWriter()
        json.beginArray()
        json.string(text)
        json.number(-42)
        json.number(UInt64.max)
        json.bool(true)
        json.null()
        json.address(IPAddress("10.1.2.3")!)
        json.endArray()
        let parsed = try JSONSerialization.jsonObject(with: Data(json.bytes)) as? [Any]
        #expect(parsed?.first as? String == text)
        #expect(parsed?[1] as? Int == -42)
        #expect(parsed?[5] as? String == "10.1.2.3")
    }
}
