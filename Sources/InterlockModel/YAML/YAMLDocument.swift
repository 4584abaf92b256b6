import Foundation

/// Parses YAML text into a located `YAMLNode` tree, turning every parser complaint into a `Diagnostic`.
public enum YAMLDocument {
    /// Parses one YAML document. Returns nil (and records why) when the text is not valid YAML.
    /// An empty document yields an empty mapping located at line 1.
    ///
    /// Reads libyaml's event stream directly (`YAMLEventReader`), with the same trees and diagnostics as the
    /// `Yams.compose`-based reader it replaced (kept in the tests as the reference).
    public static func parse(_ data: Data, file: String, diagnostics: inout Diagnostics) -> YAMLNode? {
        YAMLEventReader.parse(data, file: file, diagnostics: &diagnostics)
    }
}
