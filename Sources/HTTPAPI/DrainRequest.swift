import Foundation
import GSLB

/// The body of `PUT /v1/nameservices/{name}/targets/{target}/drain`:
/// `{"reason": "kernel upgrade", "until": "2026-11-25T06:00:00Z"}` or
/// `{"reason": "...", "durationSeconds": 3600}`; neither: until undrained. Who drained it is the
/// token's name, never taken from the body.
struct DrainRequest: Decodable {
    var reason: String?
    var until: String?
    var durationSeconds: Int64?

    /// The longest reason kept (status messages quote it).
    static let maxReasonLength = 256

    /// The drain this request asks for at `now`, or every problem with its field path. Times are
    /// kept to whole seconds, as RFC 3339 in the stored object carries them.
    func drain(target: String, by: String, now precise: WallTime) -> (drain: TargetDrain?, problems: [ValidationProblem]) {
        let now = WallTime(secondsSinceEpoch: precise.secondsSinceEpoch)
        var problems: [ValidationProblem] = []
        let text = (reason ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        if text.isEmpty {
            problems.append(ValidationProblem(field: "reason", message: "is required: say why the target is drained"))
        } else if text.count > Self.maxReasonLength {
            problems.append(ValidationProblem(field: "reason", message: "is \(text.count) characters long; at most \(Self.maxReasonLength)"))
        }
        var expiry: WallTime?
        if until != nil && durationSeconds != nil {
            problems.append(ValidationProblem(field: "durationSeconds", message: "give either until or durationSeconds, not both"))
        } else if let until {
            if let t = WallTime(rfc3339: until) {
                if t <= now {
                    problems.append(ValidationProblem(field: "until", message: "\(until) is not in the future (now: \(now.rfc3339))"))
                }
                expiry = WallTime(secondsSinceEpoch: t.secondsSinceEpoch)
            } else {
                problems.append(ValidationProblem(field: "until", message: "\"\(until)\" is not an RFC 3339 time such as 2026-11-25T06:00:00Z (years up to 2262)"))
            }
        } else if let durationSeconds {
            if durationSeconds < 1 || durationSeconds > 366 * 86_400 {
                problems.append(ValidationProblem(field: "durationSeconds", message: "\(durationSeconds) is not between 1 and 31622400 (366 days)"))
            } else {
                expiry = now + .seconds(durationSeconds)
            }
        }
        guard problems.isEmpty else { return (nil, problems) }
        return (TargetDrain(target: target, reason: text, by: by, since: now, until: expiry), [])
    }
}
