import Hummingbird
import Logging
import NameServiceStore

/// Turns every error a route throws into a Kubernetes `Status` body: `APIStatus` as given, a
/// `StoreError` by its code, Hummingbird's own errors (unknown path → 404) by their status, and
/// anything else into a logged 500.
struct StatusErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context,
                next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let status as APIStatus {
            if status.code >= 500 {
                context.logger.error("request failed", metadata: ["status": "\(status.code)", "message": "\(status.message)"])
            }
            return status.response()
        } catch let error as StoreError {
            context.logger.error("store error", metadata: ["error": "\(error)"])
            return APIStatus.from(error, name: nil).response()
        } catch let error as any HTTPResponseError {
            let code = Int(error.status.code)
            let message = (error as? HTTPError)?.body ?? (code == 404 ? "no route for \(request.method) \(request.uri.path)" : error.status.reasonPhrase)
            return APIStatus(code: code, reason: APIStatus.reason(for: code), message: message).response()
        } catch {
            context.logger.error("unexpected error", metadata: ["error": "\(error)"])
            return APIStatus(code: 500, reason: "InternalError", message: "internal error: \(error)").response()
        }
    }
}
