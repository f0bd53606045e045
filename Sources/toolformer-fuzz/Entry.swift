#if canImport(Glibc)
import Glibc
#endif

#if TOOLFORMER_LIBFUZZER
import CToolformerShims

/// The program's entry point in the libFuzzer build (`.ci/fuzz`): SwiftPM links an executable's
/// `main` to `<module>_main`, so this hands libFuzzer's driver the input callback.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    RequestFuzzer.run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

@_cdecl("toolformer_fuzz_main")
func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc
    var arguments = argv
    return LLVMFuzzerRunDriver(&count, &arguments) { data, size in fuzzOneInput(data, Int(size)) }
}
#else
/// Without libFuzzer: runs the same checks over the files named (a corpus, or a crash to replay).
@main
struct ReplayFuzzInputs {
    static func main() {
        let paths = CommandLine.arguments.dropFirst()
        guard !paths.isEmpty else {
            complain("usage: toolformer-fuzz FILE...\nruns each file through the line decoder and request parser checks")
            exit(2)
        }
        for path in paths {
            guard let file = fopen(path, "rb") else {
                complain("toolformer-fuzz: cannot open \(path)")
                exit(1)
            }
            var bytes: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 65_536)
            while true {
                let count = fread(&chunk, 1, chunk.count, file)
                if count <= 0 { break }
                bytes += chunk[0..<count]
            }
            fclose(file)
            bytes.withUnsafeBytes { RequestFuzzer.run($0) }
        }
        print("ok: \(paths.count) inputs")
    }

    static func complain(_ message: String) {
        let line = Array((message + "\n").utf8)
        _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    }
}
#endif
