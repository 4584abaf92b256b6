import Testing
@testable import InterlockModel

@Suite struct TimeParsingTests {
    @Test func cronFieldsListsRangesStepsAndNames() throws {
        let cron = try CronExpression(parsing: "*/15 22-23 * JAN,dec SAT,SUN")
        #expect(cron.minutes == [0, 15, 30, 45])
        #expect(cron.hours == [22, 23])
        #expect(cron.months == [1, 12])
        #expect(cron.daysOfWeek == [0, 6])
        #expect(!cron.daysOfMonthRestricted)
        #expect(try CronExpression(parsing: "0 2 * * 7").daysOfWeek == [0], "7 is Sunday")
        #expect(try CronExpression(parsing: "30 5 * * MON-FRI").daysOfWeek == [1, 2, 3, 4, 5])
        #expect(try CronExpression(parsing: "5/20 * * * *").minutes == [5, 25, 45])
    }

    @Test func cronDayFieldsAreORedWhenBothRestricted() throws {
        let cron = try CronExpression(parsing: "0 0 1 * MON")
        #expect(cron.matchesDay(dayOfMonth: 1, month: 3, weekday: 4))
        #expect(cron.matchesDay(dayOfMonth: 9, month: 3, weekday: 1))
        #expect(!cron.matchesDay(dayOfMonth: 9, month: 3, weekday: 2))
    }

    @Test func badCronExpressionsSayWhy() {
        for (text, reason) in [
            ("0 22 * *", "expected 5 fields"), ("60 * * * *", "out of range"), ("0 0 * * FUNDAY", "not a valid day-of-week"),
            ("0 5-2 * * *", "runs backwards"), ("*/0 * * * *", "bad step"), ("0 0 32 * *", "out of range"), ("1,,2 * * * *", "empty list item"),
        ] {
            do {
                _ = try CronExpression(parsing: text)
                Issue.record("'\(text)' parsed")
            } catch {
                #expect("\(error)".contains(reason), "\(text): \(error)")
            }
        }
    }

    @Test func durations() throws {
        #expect(try TimeSpan(parsing: "6h").seconds == 21_600)
        #expect(try TimeSpan(parsing: "1h30m").seconds == 5_400)
        #expect(try TimeSpan(parsing: "2d").description == "2d")
        #expect(TimeSpan(seconds: 5_430).description == "1h30m30s")
        for bad in ["", "6", "h", "30m1h", "1.5h", "6 hours", "0s", "-1h"] {
            #expect(throws: TimeSpan.ParseError.self, "\(bad)") { try TimeSpan(parsing: bad) }
        }
    }

    @Test func localDates() throws {
        #expect(try LocalDateTime(parsing: "2028-02-29").isDateOnly)
        #expect(try LocalDateTime(parsing: "2026-12-20T18:30").hour == 18)
        for bad in ["2027-02-29", "2026-13-01", "2026-12-20T24:00", "20-12-2026", "2026-12-20T1:00"] {
            #expect(throws: LocalDateTime.ParseError.self, "\(bad)") { try LocalDateTime(parsing: bad) }
        }
    }

    @Test func yamlCoreSchemaKeepsNorwayAndDatesAsText() {
        #expect(YAMLScalar(text: "no", quoted: false).resolved == .string("no"))
        #expect(YAMLScalar(text: "2026-12-20", quoted: false).resolved == .string("2026-12-20"))
        #expect(YAMLScalar(text: "1.4.0", quoted: false).resolved == .string("1.4.0"))
        #expect(YAMLScalar(text: "0644", quoted: false).resolved == .int(644))
        #expect(YAMLScalar(text: "1e3", quoted: false).resolved == .double(1000))
        #expect(YAMLScalar(text: "true", quoted: true).resolved == .string("true"))
        #expect(YAMLScalar(text: "~", quoted: false).resolved == .null)
    }

    @Test func globs() {
        #expect(Glob("components/dashboard-*").matches("components/dashboard-energy"))
        #expect(!Glob("components/dashboard-*").matches("flows/dashboard-energy"))
        #expect(Glob("*").matches("files/a/b"))
        #expect(Glob("flows/[a-e]?").matches("flows/b2"))
        #expect(!Glob("flows/[!a-e]*").matches("flows/beta"))
        #expect(!Glob("flows/[ab").isWellFormed)
    }
}
