import Foundation
import Testing
@testable import InterlockModel

/// A file anyone can commit cannot crash Interlock or cost it without bound: deep nesting, alias bombs and huge
/// files are diagnostics with the file and line, and the rest of the repository is still checked.
@Suite struct HostileYAMLTests {
    /// A map nested `levels` deep (the root map is level 1), with a scalar at the bottom.
    static func nested(_ levels: Int) -> String {
        var text = ""
        for level in 0..<(levels - 1) { text += String(repeating: "  ", count: level) + "a:\n" }
        return text + String(repeating: "  ", count: levels - 1) + "x: 1\n"
    }

    func parse(_ text: String, file: String = "flows/x.yaml") -> (YAMLNode?, [Diagnostic]) {
        var diagnostics = Diagnostics()
        let node = YAMLEventReader.parse(Data(text.utf8), file: file, diagnostics: &diagnostics)
        return (node, diagnostics.all)
    }

    @Test func nestingUpToTheLimitIsReadAndDeeperIsADiagnostic() {
        // Levels of maps plus the scalar at the bottom.
        let (ok, none) = parse(Self.nested(YAMLEventReader.maximumDepth - 1))
        #expect(ok != nil)
        #expect(none.isEmpty)
        let (deep, problems) = parse(Self.nested(800))
        #expect(deep == nil)
        let problem = problems.first
        #expect(problem?.code == "yaml-too-deep")
        #expect(problem?.location.file == "flows/x.yaml")
        #expect(problem?.location.line == YAMLEventReader.maximumDepth)
        #expect(problem?.hint?.contains("at most 100 levels") == true)
    }

    @Test func deeplyNestedFlowListsAreRefusedToo() {
        let text = "a: " + String(repeating: "[", count: 300) + String(repeating: "]", count: 300) + "\n"
        let (node, problems) = parse(text)
        #expect(node == nil)
        #expect(problems.first?.code == "yaml-too-deep")
    }

    @Test func anAliasBombIsRefusedQuickly() {
        // 429 bytes standing for 9^12 ≈ 2.8e11 values.
        var bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n"
        var previous = "a"
        for index in 1..<12 {
            let name = String(UnicodeScalar(UInt8(97 + index)))
            bomb += "\(name): &\(name) [*\(previous), *\(previous), *\(previous), *\(previous), *\(previous), *\(previous), *\(previous), *\(previous), *\(previous)]\n"
            previous = name
        }
        let started = ContinuousClock.now
        let (node, problems) = parse(bomb)
        #expect(ContinuousClock.now - started < .seconds(5))
        #expect(node == nil)
        #expect(problems.first?.code == "yaml-too-many-nodes")
        #expect(problems.first?.location.line == 7, "the alias that crosses the limit")
    }

    @Test func aFewAliasesAreStillFine() {
        let (node, problems) = parse("base: &base { interval: 5s, unit: 1 }\nline1: *base\nline2: *base\n")
        #expect(problems.isEmpty)
        #expect(node?.pairs?.count == 3)
    }

    @Test func aHugeFileIsRefusedBeforeItIsParsed() {
        let text = "a: \"" + String(repeating: "x", count: YAMLEventReader.maximumBytes) + "\"\n"
        let (node, problems) = parse(text)
        #expect(node == nil)
        #expect(problems.first?.code == "yaml-too-large")
    }

    @Test func aDeepFileInTheRepositoryIsReportedAndTheOtherFilesAreStillChecked() {
        var f = Fixture()
        f.files["flows/deep.yaml"] = Self.nested(800)
        f.edit("sites/plant-a/site.yaml", replacing: "timezone: Europe/Berlin", with: "timezon: Europe/Berlin")
        let codes = Set(f.errors().map(\.code))
        #expect(codes.contains("yaml-too-deep"))
        #expect(codes.contains("unknown-field"), "the rest of the repository is still validated")
    }

    @Test func aComponentNestedNearTheLimitCompilesWithoutExhaustingTheStack() {
        var f = Fixture()
        var config = "x: 1"
        for _ in 0..<90 { config = "{ a: \(config) }" }
        f.edit("components/broker.yaml", replacing: "  retained: { enabled: true, limit: 5 }", with: "  retained: { enabled: true, limit: 5 }\n  deep: \(config)")
        let compilation = f.compile("plant-a")
        #expect(compilation.diagnostics.filter { $0.severity == .error }.isEmpty, "\(compilation.diagnostics)")
    }
}

/// The instance configuration's target allowances cannot point into the desired-state repository.
@Suite struct TargetAllowanceConfigurationTests {
    @Test func relativeDriverPathsAreRefusedAndAbsoluteOnesRead() {
        let text = """
            targets:
              roots: [/srv/interlock/targets, relative/dir]
              commands:
                - python3 drivers/mqtt-retained/driver.py
                - /usr/bin/python3 /opt/interlock/drivers/mqtt.py
              environment: [MQTT_TOPIC]
            """
        let (configuration, diagnostics) = InstanceConfiguration.read(Data(text.utf8), file: "interlock.yaml")
        #expect(diagnostics.map(\.code).sorted() == ["relative-target-command", "relative-target-root"])
        #expect(diagnostics.first { $0.code == "relative-target-command" }?.location.line == 4)
        #expect(configuration?.targetCommands.last == ["/usr/bin/python3", "/opt/interlock/drivers/mqtt.py"])
        #expect(configuration?.targetEnvironment == ["MQTT_TOPIC"])
    }

    /// `database` and `leaseDuration` in the instance configuration: read when sound, named with the field and what to
    /// write when not.
    @Test func theStateDatabaseAndTheLeaseComeFromTheConfigurationOrAreClearErrors() {
        let good = "database: 'postgres://interlock@db.example.com/interlock?sslmode=verify-full&passwordfile=/etc/interlock/db-password'\nleaseDuration: 45s\n"
        let (configuration, diagnostics) = InstanceConfiguration.read(Data(good.utf8), file: "interlock.yaml")
        #expect(diagnostics.isEmpty)
        #expect(configuration?.database?.hasPrefix("postgres://interlock@db.example.com/") == true)
        #expect(configuration?.leaseDuration?.seconds == 45)
        let bad = "database: mysql://db/interlock\nleaseDuration: 1s\n"
        let (_, problems) = InstanceConfiguration.read(Data(bad.utf8), file: "interlock.yaml")
        #expect(problems.map(\.code).sorted() == ["bad-database", "bad-lease-duration"])
        #expect(problems.first { $0.code == "bad-database" }?.location.line == 1)
        #expect(problems.allSatisfy { $0.hint?.isEmpty == false })
    }

    /// `webhooks.git`: a secret (or a file), a repository with its owner, a branch in any of its spellings.
    @Test func theGitWebhookNeedsASecretAndAnOwnedRepositoryName() {
        let good = "webhooks:\n  git:\n    secretFile: /etc/interlock/webhook-secret\n    repository: ot/desired-state\n    branch: refs/heads/main\n"
        let (configuration, diagnostics) = InstanceConfiguration.read(Data(good.utf8), file: "interlock.yaml")
        #expect(diagnostics.isEmpty)
        #expect(configuration?.gitWebhook?.secretFile == "/etc/interlock/webhook-secret" && configuration?.gitWebhook?.branch == "main")
        for (text, code) in [("webhooks:\n  git:\n    repository: ot/desired-state\n", "webhook-without-secret"),
                             ("webhooks:\n  git:\n    secret: short\n", "webhook-short-secret"),
                             ("webhooks:\n  git:\n    secret: 0123456789abcdef0123\n    secretFile: /etc/x\n", "webhook-two-secrets"),
                             ("webhooks:\n  git:\n    secretFile: webhook-secret\n", "webhook-relative-secret-file"),
                             ("webhooks:\n  git:\n    secret: 0123456789abcdef0123\n    repository: desired-state\n", "webhook-repository-name")] {
            let (_, problems) = InstanceConfiguration.read(Data(text.utf8), file: "interlock.yaml")
            #expect(problems.map(\.code) == [code], "\(text)")
            #expect(problems.allSatisfy { $0.hint?.isEmpty == false && $0.field.hasPrefix("webhooks.git") })
        }
    }
}
