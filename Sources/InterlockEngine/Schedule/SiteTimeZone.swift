import Foundation
import InterlockModel

/// A site's IANA time zone, turning plant wall-clock times into instants with explicit rules for the two DST
/// cases instead of whatever `Calendar.date(from:)` happens to do (on Linux it moves a time in the spring-forward
/// gap by the gap's length: 02:30 becomes 03:30):
///
/// - a wall time that does not exist (in the spring-forward gap) becomes the first instant after the gap, the
///   moment the clocks jump to (02:30 on 2026-03-29 in Europe/Berlin is 03:00 CEST);
/// - a wall time that happens twice (in the fall-back hour) is the earlier instant by default, or the later one
///   when asked (`RepeatedTime.later`).
///
/// Offsets come from `TimeZone.secondsFromGMT(for:)`; the rules assume at most one offset change within a day
/// either side of the wall time, which holds for every zone in use today.
public struct SiteTimeZone: Sendable, Hashable {
    /// Which instant a wall time that happens twice (fall-back hour) stands for.
    public enum RepeatedTime: Sendable, Hashable {
        /// The first occurrence, still in summer time.
        case earlier
        /// The second occurrence, already in standard time.
        case later
    }

    public let timeZone: TimeZone

    public init(_ timeZone: TimeZone) { self.timeZone = timeZone }

    /// The instant of a plant wall-clock time (seconds 0), following the gap and repeated-time rules.
    public func instant(of local: LocalDateTime, repeated: RepeatedTime = .earlier) -> Date {
        instant(day: CivilDate(year: local.year, month: local.month, day: local.day),
                secondOfDay: local.hour * 3600 + local.minute * 60, repeated: repeated)
    }

    /// The instant of `secondOfDay` seconds after local midnight on `day` (may be 86 400 or more for the
    /// next day's midnight), on the wall clock.
    func instant(day: CivilDate, secondOfDay: Int, repeated: RepeatedTime = .earlier) -> Date {
        let wall = day.daysSinceEpoch * 86_400 + secondOfDay
        return Date(timeIntervalSince1970: TimeInterval(resolve(wall: wall, repeated: repeated)))
    }

    /// Epoch seconds of the instant whose wall clock reads `wall` (wall clock expressed as if it were UTC).
    private func resolve(wall: Int, repeated: RepeatedTime) -> Int {
        let before = offset(at: wall - 86_400)
        let after = offset(at: wall + 86_400)
        let valid = Set([before, after]).map { wall - $0 }.filter { offset(at: $0) == wall - $0 }
        if let choice = repeated == .earlier ? valid.min() : valid.max() { return choice }
        guard before != after else { return wall - before }
        // In the gap: find the transition, the first second at which the new offset applies.
        var low = wall - max(before, after)  // offset there is still `before`
        var high = wall - min(before, after)  // offset there is already `after`
        if offset(at: low) != before { return low }
        while high - low > 1 {
            let middle = low + (high - low) / 2
            if offset(at: middle) == before { low = middle } else { high = middle }
        }
        return high
    }

    private func offset(at epochSeconds: Int) -> Int {
        timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(epochSeconds)))
    }

    /// The wall clock at `date`, as seconds since 1970-01-01T00:00 on the wall (whole seconds, rounded down).
    func wallSeconds(at date: Date) -> Int {
        let epoch = Int(date.timeIntervalSince1970.rounded(.down))
        return epoch + offset(at: epoch)
    }

    /// How far the wall clock jumped forward (`gap`) or back (`repeated`), in seconds, in the day before `date`.
    func recentShift(before date: Date) -> (gap: Int, repeated: Int) {
        let epoch = Int(date.timeIntervalSince1970.rounded(.down))
        let change = offset(at: epoch) - offset(at: epoch - 86_400)
        return (max(0, change), max(0, -change))
    }

    /// The plant-local calendar day `date` falls on.
    func localDay(at date: Date) -> CivilDate {
        CivilDate(daysSinceEpoch: floorDivide(wallSeconds(at: date), 86_400))
    }

    /// The zone's short name at `date` as people in the plant say it (`CET`, `CEST`, `CDT`, `UTC`), else
    /// `UTC+5:30`. Linux Foundation's `TimeZone.abbreviation(for:)` only says `GMT+1`, so this asks ICU
    /// through an English `DateFormatter` for the US and the UK names and falls back to the offset.
    public func abbreviation(at date: Date) -> String {
        let seconds = timeZone.secondsFromGMT(for: date)
        let identifier = timeZone.identifier
        if seconds == 0, !identifier.contains("/") || identifier.hasPrefix("Etc/") { return "UTC" }
        for locale in ["en_US", "en_GB"] {
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: locale)
            formatter.timeZone = timeZone
            formatter.dateFormat = "zzz"
            let name = formatter.string(from: date)
            if !name.isEmpty, !name.hasPrefix("GMT+"), !name.hasPrefix("GMT-"), !name.hasPrefix("UTC") { return name }
        }
        let sign = seconds < 0 ? "-" : "+"
        let hours = abs(seconds) / 3600, minutes = abs(seconds) % 3600 / 60
        return "UTC\(sign)\(hours)" + (minutes == 0 ? "" : ":\(twoDigits(minutes))")
    }

    /// `Sat 2026-11-28 22:00 CET` (seconds only when not zero).
    public func siteTimeText(_ date: Date) -> String {
        let wall = wallSeconds(at: date)
        return "\(CivilDate(daysSinceEpoch: floorDivide(wall, 86_400)).text) \(Self.clockText(wall)) \(abbreviation(at: date))"
    }

    /// `22:00 CET` (seconds only when not zero).
    public func clockText(_ date: Date) -> String {
        "\(Self.clockText(wallSeconds(at: date))) \(abbreviation(at: date))"
    }

    /// `Sat 2026-11-28` in the site's calendar.
    public func dayText(_ date: Date) -> String { localDay(at: date).text }

    /// `Sat 2026-11-28 21:00 UTC`.
    public static func utcText(_ date: Date) -> String { SiteTimeZone(utc).siteTimeText(date) }

    static let utc = TimeZone(identifier: "UTC")!

    static func clockText(_ wall: Int) -> String {
        let second = wall - floorDivide(wall, 86_400) * 86_400
        let text = "\(twoDigits(second / 3600)):\(twoDigits(second % 3600 / 60))"
        return second % 60 == 0 ? text : "\(text):\(twoDigits(second % 60))"
    }
}
