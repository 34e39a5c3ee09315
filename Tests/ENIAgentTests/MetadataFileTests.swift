import ENIAgent
import ENIModel
import Foundation
import XCTest

final class MetadataFileTests: XCTestCase {
    func parse(_ s: String) throws -> Instance {
        try MetadataFileProvider.parse(Array(s.utf8), source: "i.json")
    }

    func testParsesTheDocumentedFormat() throws {
        let i = try parse("""
            {"primary_mac": "52:54:00:00:01:0A",
             "enis": [{"mac": "52:54:00:00:02:0A", "primary_ip": "10.0.2.10", "secondary_ips": ["10.0.2.12", "10.0.2.11"],
                       "subnet": "10.0.2.0/24", "gateway": "10.0.2.1", "device_number": 1, "network_card": 0, "id": "eni-1"}]}
            """)
        XCTAssertEqual(i.primaryMAC, try MACAddress("52:54:00:00:01:0a"))
        let e = try XCTUnwrap(i.enis.first)
        XCTAssertEqual(e.allIPs.map(\.description), ["10.0.2.10", "10.0.2.11", "10.0.2.12"])
        XCTAssertEqual(e.deviceNumber, 1)
        XCTAssertEqual(e.networkCard, 0)
        XCTAssertEqual(e.id, "eni-1")
    }

    func testErrorsNameThePathAndValue() {
        let cases: [(String, String)] = [
            (#"{"primary_mac": "x", "enis": []}"#, #"i.json: primary_mac: invalid MAC address "x""#),
            (#"{"primary_mac": "52:54:00:00:01:0a"}"#, "i.json: enis: missing"),
            (#"{"primary_mac": "52:54:00:00:01:0a", "enis": [], "extra": 1}"#, "i.json: extra: unknown key"),
            (#"{"primary_mac": "52:54:00:00:01:0a", "enis": [{"mac": "52:54:00:00:02:0a", "primary_ip": "10.0.2.10", "subnet": "10.0.2.0/24", "gateway": "10.0.2.1", "secondary_ip": []}]}"#,
             "i.json: enis[0].secondary_ip: unknown key"),
            (#"{"primary_mac": "52:54:00:00:01:0a", "enis": [{"mac": "52:54:00:00:02:0a", "primary_ip": "10.0.2.10", "subnet": "10.0.2.1/24", "gateway": "10.0.2.1"}]}"#,
             #"i.json: enis[0].subnet: invalid IPv4 prefix "10.0.2.1/24": host bits set"#),
            (#"{"primary_mac": "52:54:00:00:01:0a", "enis": [{"mac": "52:54:00:00:02:0a", "primary_ip": "10.0.2.10", "subnet": "10.0.2.0/24", "gateway": "10.0.3.1"}]}"#,
             "i.json: enis[0]: ENI 52:54:00:00:02:0a: gateway 10.0.3.1 is outside its subnet 10.0.2.0/24"),
            (#"{"primary_mac": "52:54:00:00:01:0a", "enis": [{"mac": "52:54:00:00:02:0a", "primary_ip": "10.0.2.10", "subnet": "10.0.2.0/24", "gateway": "10.0.2.1", "device_number": "1"}]}"#,
             "i.json: enis[0].device_number: expected an integer"),
            ("[1,", "i.json: not valid JSON"),
        ]
        for (json, message) in cases {
            XCTAssertThrowsError(try parse(json), json) { e in
                XCTAssertTrue("\(e)".hasPrefix(message), "got: \(e)\nwant: \(message)")
            }
        }
    }

    func testMissingFileNamesThePath() async {
        do {
            _ = try await MetadataFileProvider(path: "/nonexistent/instance.json").read()
            XCTFail("no error")
        } catch {
            XCTAssertEqual("\(error)", "metadata file /nonexistent/instance.json: read /nonexistent/instance.json: No such file or directory")
        }
    }

    func testAFIFOIsRefusedNotWaitedOn() async throws {
        let fifo = FileManager.default.temporaryDirectory.appending(path: "eni-meta-\(UUID().uuidString).fifo").path
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        defer { try? FileManager.default.removeItem(atPath: fifo) }
        do {
            _ = try await MetadataFileProvider(path: fifo).read()
            XCTFail("no error")
        } catch {
            XCTAssertEqual("\(error)", "metadata file \(fifo): read \(fifo): a FIFO, not a regular file")
        }
    }
}
