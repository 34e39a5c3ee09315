import ENIApply
@testable import ENIAgent
import ENIMetadata
import ENIModel
import Foundation
import XCTest

final class MetadataFileTests: XCTestCase {
    func testMissingFileNamesThePath() {
        do {
            _ = try MetadataFileProvider(path: "/nonexistent/instance.json", readFile: { try FileStore.readFile(atPath: $0, limit: $1) }).read()
            XCTFail("no error")
        } catch {
            XCTAssertEqual("\(error)", "metadata file /nonexistent/instance.json: read /nonexistent/instance.json: No such file or directory")
        }
    }

    func testAFIFOIsRefusedNotWaitedOn() throws {
        let fifo = FileManager.default.temporaryDirectory.appending(path: "eni-meta-\(UUID().uuidString).fifo").path
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        defer { try? FileManager.default.removeItem(atPath: fifo) }
        do {
            _ = try MetadataFileProvider(path: fifo, readFile: { try FileStore.readFile(atPath: $0, limit: $1) }).read()
            XCTFail("no error")
        } catch {
            XCTAssertEqual("\(error)", "metadata file \(fifo): read \(fifo): a FIFO, not a regular file")
        }
    }

    /// The parse is `InstanceJSON.parse` (ENIModelTests: the format and every message), its error a
    /// `MetadataError` with the same message.
    func testParseIsTheModelsWithAMetadataError() throws {
        let example = Array(try Data(contentsOf: URL(filePath: #filePath).deletingLastPathComponent().appending(path: "../../examples/instance.json")))
        XCTAssertEqual(try MetadataFileProvider.parse(example, source: "instance.json"), try InstanceJSON.parse(example, source: "instance.json"))
        XCTAssertThrowsError(try MetadataFileProvider.parse(Array("[1,".utf8), source: "i.json")) {
            XCTAssertEqual($0 as? MetadataError, MetadataError("i.json: not valid JSON: line 1, column 4: unexpected end of input, expected a value"))
        }
        XCTAssertEqual(MetadataFileProvider.maxSize, 4 << 20)
    }
}
