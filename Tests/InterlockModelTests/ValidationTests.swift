import Testing
@testable import InterlockModel

/// Every validation rule: the message names the file, the line and the field, and says what to do.
@Suite struct ValidationTests {
    /// Returns the one error with `code`, failing the test when there is none.
    func error(_ code: String, in fixture: Fixture, sourceLocation: Testing.SourceLocation = #_sourceLocation) throws -> Diagnostic {
        let errors = fixture.errors()
        return try #require(errors.first { $0.code == code }, "expected a '\(code)' error, got: \(errors.map(\.description))", sourceLocation: sourceLocation)
    }

    @Test func fixtureIsValid() {
        #expect(Fixture().validate().isEmpty)
    }

    @Test func yamlSyntaxErrorNamesFileAndLine() throws {
        var f = Fixture()
        f.files["flows/energy.yaml"] = "name: energy\nbricks:\n  - id: a\n   type: x\n"
        let e = try error("yaml-syntax", in: f)
        #expect(e.location.file == "flows/energy.yaml")
        #expect(e.location.line == 4)
        #expect(e.hint != nil)
    }

    @Test func unknownFieldIsReportedWithSuggestion() throws {
        var f = Fixture()
        f.edit("sites/plant-a/site.yaml", replacing: "timezone: Europe/Berlin", with: "timezon: Europe/Berlin")
        let errors = f.errors()
        let unknown = try #require(errors.first { $0.code == "unknown-field" })
        #expect(unknown.location.file == "sites/plant-a/site.yaml")
        #expect(unknown.location.line == 3)
        #expect(unknown.field == "timezon")
        #expect(unknown.hint?.contains("did you mean 'timezone'") == true)
        #expect(errors.contains { $0.code == "missing-field" && $0.field == "timezone" })
    }

    @Test func missingRequiredFieldNamesTheField() throws {
        var f = Fixture()
        f.edit("components/broker.yaml", replacing: "vendor: Eclipse Foundation\n", with: "")
        let e = try error("missing-field", in: f)
        #expect(e.location.file == "components/broker.yaml")
        #expect(e.field == "vendor")
    }

    @Test func wrongTypeIsReported() throws {
        var f = Fixture()
        f.edit("sites/plant-a/site.yaml", replacing: "components: [broker]", with: "components: broker")
        let e = try error("wrong-type", in: f)
        #expect(e.field == "components")
        #expect(e.message.contains("expected a list"))
        #expect(e.location.line == 17)
    }

    @Test func duplicateBrickID() throws {
        var f = Fixture()
        f.edit("flows/energy.yaml", replacing: "- id: meter-2", with: "- id: meter-1")
        let e = try error("duplicate-brick", in: f)
        #expect(e.location.file == "flows/energy.yaml")
        #expect(e.field == "bricks[1].id")
        #expect(e.location.line == 8)
    }

    @Test func connectionToUnknownBrick() throws {
        var f = Fixture()
        f.edit("flows/energy.yaml", replacing: "to: dashboard.in", with: "to: dashbord.in")
        let e = try error("unknown-brick", in: f)
        #expect(e.field == "connections[2].to")
        #expect(e.hint?.contains("did you mean 'dashboard'") == true)
    }

    @Test func connectionToUnknownPort() throws {
        var f = Fixture()
        f.edit("flows/energy.yaml", replacing: "from: aggregator.out", with: "from: aggregator.early")
        let e = try error("unknown-port", in: f)
        #expect(e.message.contains("no output port 'early'"))
        #expect(e.hint?.contains("out, late") == true)
    }

    @Test func defaultPortOfBrickWithoutOutputsIsAnError() throws {
        var f = Fixture()
        f.edit("flows/energy.yaml", replacing: "- { from: aggregator.out, to: dashboard.in }", with: "- { from: dashboard, to: aggregator }")
        let e = try error("unknown-port", in: f)
        #expect(e.message.contains("has no output port"))
    }

    @Test func selfConnectionIsRejectedUnlessAllowed() throws {
        var f = Fixture()
        f.edit("flows/energy.yaml", replacing: "- { from: aggregator.out, to: dashboard.in }", with: "- { from: aggregator.late, to: aggregator.in }")
        let e = try error("self-connection", in: f)
        #expect(e.field == "connections[2]")
        f.edit("flows/energy.yaml", replacing: "type: window-aggregate", with: "type: window-aggregate\n    allowSelfConnection: true")
        #expect(!f.errors().contains { $0.code == "self-connection" })
    }

    @Test func siteNamingUnknownComponentOrFlow() throws {
        var f = Fixture()
        f.edit("sites/plant-a/site.yaml", replacing: "components: [broker]", with: "components: [broker, brokr]")
        f.edit("sites/plant-a/site.yaml", replacing: "flows: [energy]", with: "flows: [energy, vibration]")
        let component = try error("unknown-component", in: f)
        #expect(component.location.file == "sites/plant-a/site.yaml")
        #expect(component.location.line == 17)
        #expect(component.hint?.contains("did you mean 'broker'") == true)
        let flow = try error("unknown-flow", in: f)
        #expect(flow.message.contains("'vibration'"))
    }

    @Test func overrideForComponentTheSiteDoesNotRun() throws {
        var f = Fixture()
        f.files["sites/plant-a/overrides/flows/other.yaml"] = "bricks: {}"
        let e = try error("override-not-used", in: f)
        #expect(e.location.file == "sites/plant-a/overrides/flows/other.yaml")
        #expect(e.hint?.contains("sites/plant-a/site.yaml") == true)
    }

    @Test func unknownTimeZone() throws {
        var f = Fixture()
        f.edit("sites/plant-b/site.yaml", replacing: "America/New_York", with: "America/NewYork")
        let e = try error("unknown-timezone", in: f)
        #expect(e.location.file == "sites/plant-b/site.yaml")
        #expect(e.location.line == 2)
        #expect(e.hint?.contains("America/New_York") == true)
    }

    /// Current IANA spellings that ICU's canonical list lacks, and the database's aliases, are time zones; abbreviations
    /// and offsets are not.
    @Test func timeZonesAreIANANamesIncludingCurrentSpellingsAndAliases() throws {
        for zone in ["Asia/Kolkata", "Europe/Kyiv", "US/Eastern", "Etc/GMT-5", "UTC"] {
            var f = Fixture()
            f.edit("sites/plant-b/site.yaml", replacing: "America/New_York", with: zone)
            #expect(!f.errors().contains { $0.code == "unknown-timezone" }, "\(zone)")
            let plantB = try #require(DesiredState.load(from: f.snapshot).state.site(named: "plant-b"))
            #expect(plantB.timeZone != nil, "\(zone)")
        }
        for zone in ["EST", "GMT+5", "Factory", "asia/kolkata", "Asia/Kolkatta"] {
            var f = Fixture()
            f.edit("sites/plant-b/site.yaml", replacing: "America/New_York", with: zone)
            #expect(f.errors().contains { $0.code == "unknown-timezone" }, "\(zone)")
        }
    }

    /// The one-pass path check gives the same answer as splitting the path into segments, for every kind of path.
    @Test func targetPathProblemsMatchASegmentByProblemReference() {
        func reference(_ path: String) -> String? {
            if path.isEmpty { return "is empty" }
            if path.hasPrefix("/") { return "is an absolute path; it would escape the site's target root" }
            if path.utf8.contains(UInt8(ascii: "\\")) { return "contains a backslash; use '/' between directories" }
            if path.utf8.contains(0) { return "contains a NUL byte" }
            let parts = path.split(separator: "/", omittingEmptySubsequences: false)
            if parts.contains("..") { return "contains '..'; it would escape the site's target root" }
            if parts.contains(where: { $0.isEmpty || $0 == "." }) { return "contains an empty or '.' path segment" }
            if parts.first.map(String.init) == ".interlock" { return "is inside .interlock/, which Interlock keeps for itself" }
            return nil
        }
        let pieces = ["a", "conf", ".", "..", "...", ".interlock", ".interlockx", "", "b\\c", "n\u{0}ul", "é", "x.y"]
        var paths = ["", "/", "/etc/passwd", "a/b/c.txt", ".interlock", ".interlock/x", "x/.interlock/y"]
        for a in pieces {
            for b in pieces {
                paths.append(a + "/" + b)
                paths.append(a + b)
                for c in ["a", "..", "", "."] { paths.append(a + "/" + b + "/" + c) }
            }
        }
        for path in paths {
            #expect(TargetPath.problem(with: path) == reference(path), "'\(path)'")
        }
    }

    @Test func badCronExpression() throws {
        var f = Fixture()
        f.edit("sites/plant-a/site.yaml", replacing: "\"0 22 * * SAT\"", with: "\"0 25 * * SAT\"")
        let e = try error("bad-cron", in: f)
        #expect(e.field == "windows[0].start")
        #expect(e.message.contains("out of range for the hour field"))
        #expect(e.location.line == 6)
    }

    @Test func badDuration() throws {
        var f = Fixture()
        f.edit("sites/plant-a/site.yaml", replacing: "duration: 6h", with: "duration: six hours")
        let e = try error("bad-duration", in: f)
        #expect(e.field == "windows[0].duration")
    }

    @Test func freezeEndingBeforeItStarts() throws {
        var f = Fixture()
        f.edit("sites/plant-a/site.yaml", replacing: "to: 2027-01-06", with: "to: 2026-01-06")
        let e = try error("freeze-backwards", in: f)
        #expect(e.field == "freezes[0].to")
    }

    @Test func siteInTwoWavesOrNone() throws {
        var f = Fixture()
        f.edit("interlock.yaml", replacing: "sites: [plant-b]", with: "sites: [plant-a]")
        let errors = f.errors()
        let twice = try #require(errors.first { $0.code == "site-in-two-waves" })
        #expect(twice.location.file == "interlock.yaml")
        #expect(twice.message.contains("plant-a"))
        #expect(errors.contains { $0.code == "site-in-no-wave" && $0.message.contains("plant-b") })
    }

    @Test func waveNamingUnknownSite() throws {
        var f = Fixture()
        f.edit("interlock.yaml", replacing: "sites: [plant-b]", with: "sites: [plant-b, plant-c]")
        let e = try error("unknown-site", in: f)
        #expect(e.field == "rollout.waves[1].sites")
        #expect(e.location.line == 7)
    }

    @Test func undefinedInterpolatedValueNamesSiteAndReference() throws {
        var f = Fixture()
        f.edit("sites/plant-b/site.yaml", replacing: "  lines: 3\n", with: "")
        let e = try error("undefined-value", in: f)
        #expect(e.location.file == "components/broker.yaml")
        #expect(e.message.contains("plant-b"))
        #expect(e.message.contains("${values.lines}"))
        #expect(e.location.line == 17)
        #expect(!f.errors().contains { $0.message.contains("plant-a") })
    }

    @Test func undefinedValueInTemplateNamesTemplateLine() throws {
        var f = Fixture()
        f.edit("components/broker/mosquitto.conf", replacing: "max_connections ${config.max_connections}", with: "max_connections ${config.max_conections}")
        let errors = f.errors().filter { $0.code == "undefined-value" }
        #expect(errors.count == 2)
        #expect(errors.allSatisfy { $0.location.file == "components/broker/mosquitto.conf" && $0.location.line == 3 })
    }

    @Test func filePathEscapingTheRoot() throws {
        for bad in ["../etc/passwd", "/etc/mosquitto.conf", "a/../../b", ".interlock/manifest.json"] {
            var f = Fixture()
            f.edit("components/broker.yaml", replacing: "path: mosquitto/acl", with: "path: \(bad)")
            let e = try error("path-escapes-root", in: f)
            #expect(e.field == "files[1].path")
            #expect(e.location.file == "components/broker.yaml")
        }
    }

    @Test func twoComponentsRenderingTheSamePath() throws {
        var f = Fixture()
        f.files["components/other.yaml"] = """
            name: other
            vendor: V
            product: P
            version: "1"
            files:
              - { path: mosquitto/acl, content: x }
            """
        f.edit("sites/plant-a/site.yaml", replacing: "components: [broker]", with: "components: [broker, other]")
        let e = try error("file-conflict", in: f)
        #expect(e.message.contains("plant-a"))
    }

    @Test func missingInterlockYAML() throws {
        var f = Fixture()
        f.files["interlock.yaml"] = nil
        let e = try error("missing-repository-config", in: f)
        #expect(e.hint?.contains("--repo") == true)
    }

    @Test func everyProblemIsListedNotJustTheFirst() {
        var f = Fixture()
        f.edit("sites/plant-a/site.yaml", replacing: "timezone: Europe/Berlin", with: "timezone: Mars/Olympus")
        f.edit("flows/energy.yaml", replacing: "to: dashboard.in", with: "to: nowhere.in")
        f.edit("components/broker.yaml", replacing: "product: Mosquitto", with: "prodcut: Mosquitto")
        let codes = Set(f.errors().map(\.code))
        #expect(codes.isSuperset(of: ["unknown-timezone", "unknown-brick", "unknown-field", "missing-field"]))
    }

    @Test func unsupportedAPIVersion() throws {
        var f = Fixture()
        f.edit("interlock.yaml", replacing: "interlock/v1", with: "interlock/v9")
        let e = try error("unsupported-api-version", in: f)
        #expect(e.location.line == 1)
    }

    @Test func siteNameMustMatchDirectory() throws {
        var f = Fixture()
        f.edit("sites/plant-b/site.yaml", replacing: "name: plant-b", with: "name: plant-c")
        let e = try error("site-name-mismatch", in: f)
        #expect(e.hint?.contains("plant-b") == true)
    }

    @Test func duplicateYAMLKey() throws {
        var f = Fixture()
        f.edit("sites/plant-b/site.yaml", replacing: "  lines: 3\n", with: "  lines: 3\n  lines: 4\n")
        let e = try error("duplicate-key", in: f)
        #expect(e.location.file == "sites/plant-b/site.yaml")
    }

    @Test func approvalNeedingMoreApproversThanListed() throws {
        var f = Fixture()
        f.edit("sites/plant-b/site.yaml", replacing: "required: 1", with: "required: 2")
        let e = try error("too-few-approvers", in: f)
        #expect(e.field == "approval.required")
    }

    @Test func unknownGateInPolicy() throws {
        var f = Fixture()
        f.edit("sites/plant-a/site.yaml", replacing: "gate: window", with: "gate: windows")
        let e = try error("unknown-gate", in: f)
        #expect(e.field == "policy[0].gate")
        #expect(e.hint?.contains("approval+window") == true)
    }

    @Test func missingTemplateFile() throws {
        var f = Fixture()
        f.files["components/broker/mosquitto.conf"] = nil
        let e = try error("missing-template", in: f)
        #expect(e.message.contains("components/broker/mosquitto.conf"))
    }

    @Test func unknownDriver() throws {
        var f = Fixture()
        f.edit("sites/plant-b/site.yaml", replacing: "driver: files", with: "driver: ftp")
        let e = try error("unknown-driver", in: f)
        #expect(e.field == "target.driver")
    }

    @Test func validWhenDefinitionIsUnused() {
        var f = Fixture()
        f.files["flows/spare.yaml"] = "name: spare\nbricks:\n  - { id: a, type: t, version: 1, extra: 1 }\n"
        #expect(f.errors().contains { $0.code == "unknown-field" && $0.location.file == "flows/spare.yaml" })
    }
}

@Suite struct ValidationEdgeTests {
    @Test func dateOnlyFreezeEndIncludesTheWholeDay() {
        var f = Fixture()
        f.edit("sites/plant-a/site.yaml", replacing: "{ name: year-end, from: 2026-12-20, to: 2027-01-06 }", with: "{ name: audit, from: \"2026-10-12T06:00\", to: 2026-10-12 }")
        #expect(!f.errors().contains { $0.code == "freeze-backwards" })
        f.edit("sites/plant-a/site.yaml", replacing: "to: 2026-10-12", with: "to: 2026-10-11")
        #expect(f.errors().contains { $0.code == "freeze-backwards" })
    }

    @Test func siteWithoutApproversIsAnErrorWhenItsPolicyCanAskForApproval() {
        var f = Fixture()
        f.edit("sites/plant-b/site.yaml", replacing: "approval: { required: 1, approvers: [mgr-b] }\n", with: "")
        #expect(f.errors().contains { $0.code == "no-approvers" && $0.location.file == "sites/plant-b/site.yaml" })
        f.files["sites/plant-b/site.yaml"]! += "\npolicy:\n  - { match: \"*\", gate: window }\n"
        #expect(!f.errors().contains { $0.code == "no-approvers" })
    }

    @Test func waveNamesAreIdentifiers() {
        var f = Fixture()
        f.edit("interlock.yaml", replacing: "name: pilot", with: "name: Pilot Wave")
        #expect(f.errors().contains { $0.code == "bad-name" && $0.field == "rollout.waves[0].name" })
    }

    @Test func keyedListMergeAppliesOnlyAtTheTopLevel() throws {
        var f = Fixture()
        f.edit("components/broker.yaml", replacing: "retained: { enabled: true, limit: 5 }", with: "files: [{ path: a, size: 1 }]")
        f.files["sites/plant-b/overrides/components/broker.yaml"] = "config:\n  files:\n    a: { size: 2 }\n"
        let b = f.compile("plant-b")
        let config = try #require(b.site.resource(at: "components/broker")?.structured?.objectValue?["config"]?.objectValue)
        #expect(config["files"] == .object(["a": .object(["size": .int(2)])]), "inside config a map replaces the list, per RFC 7396")
    }
}
