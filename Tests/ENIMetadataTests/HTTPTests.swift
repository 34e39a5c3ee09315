internal import CCurl
@testable import ENIHTTP
import XCTest

/// The C boundary of the HTTP session: options that libcurl refuses are errors, never ignored.
final class HTTPTests: XCTestCase {
    /// Plain HTTP only, with the string option (libcurl 7.85 and later) or the older bit mask that
    /// RHEL 9's 7.76 has: either way another scheme is refused before anything is read.
    func testOnlyPlainHTTPWithEitherOption() throws {
        for preferString in [true, false] {
            let easy = try XCTUnwrap(curl_easy_init())
            defer { curl_easy_cleanup(easy) }
            XCTAssertEqual(restrictToHTTP(easy, preferString: preferString), CURLE_OK, "preferString \(preferString)")
            XCTAssertEqual(eni_curl_easy_setopt_string(easy, CURLOPT_URL, "file:///proc/self/status"), CURLE_OK)
            XCTAssertEqual(curl_easy_perform(easy), CURLE_UNSUPPORTED_PROTOCOL, "preferString \(preferString)")
        }
    }

    func testASessionRefusesAnotherScheme() {
        let s = HTTPSession()
        let r = s.perform(HTTPRequest(.get, "file:///proc/self/status", connectTimeoutMilliseconds: 100, timeoutMilliseconds: 1000, maxBytes: 4096))
        guard case .failure(let e) = r else { return XCTFail("file:// was read") }
        XCTAssertEqual(e.kind, .failed)
        XCTAssertTrue(e.description.hasPrefix("file:///proc/self/status: request failed"), e.description)
        XCTAssertEqual(s.requestCount, 1)
    }
}
