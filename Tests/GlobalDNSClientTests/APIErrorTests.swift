import GlobalDNSClient
import NIOCore
import NIOHTTP1
import Testing

@Suite struct APIErrorTests {
    @Test func statusBodyIsShownAsTheServerGaveIt() {
        let body = """
            {"kind":"Status","apiVersion":"v1","status":"Failure","code":422,"reason":"Invalid",
             "message":"NameService \\"checkout\\" is invalid: 2 problems",
             "details":{"name":"checkout","kind":"NameService","causes":[
               {"field":"spec.targets[0].addresses[0]","reason":"FieldValueInvalid","message":"\\"10.0.0.300\\" is not an IPv4 or IPv6 address"},
               {"field":"spec.ttl","reason":"FieldValueInvalid","message":"-1 is outside 0...86400 seconds"},
               {"message":"a cause without a field"}]}}
            """
        let error = APIError(response: HTTPClientResponse(status: .unprocessableEntity, body: ByteBuffer(string: body)))
        #expect(error.httpStatus == 422)
        #expect(error.status.details?.name == "checkout")
        #expect(error.description == """
            Error from server (Invalid): NameService "checkout" is invalid: 2 problems
              spec.targets[0].addresses[0]: "10.0.0.300" is not an IPv4 or IPv6 address
              spec.ttl: -1 is outside 0...86400 seconds
              a cause without a field
            """)
    }

    /// The server's 422 message repeats every cause (for curl users); globaldnsctl shows each once
    /// (issue 14).
    @Test func causesRepeatedInTheMessageArePrintedOnce() {
        let body = #"""
            {"kind":"Status","apiVersion":"v1","status":"Failure","code":422,"reason":"Invalid",
             "message":"NameService \"checkout\" is invalid: spec.ttl: -1 is outside 0...86400 seconds; spec.polcy: unknown field",
             "details":{"causes":[{"field":"spec.ttl","message":"-1 is outside 0...86400 seconds"},
                                  {"field":"spec.polcy","message":"unknown field"}]}}
            """#
        let error = APIError(response: HTTPClientResponse(status: .unprocessableEntity, body: ByteBuffer(string: body)))
        #expect(error.description == """
            Error from server (Invalid): NameService "checkout" is invalid:
              spec.ttl: -1 is outside 0...86400 seconds
              spec.polcy: unknown field
            """)
    }

    @Test func notFoundAndConflictHaveNoCauses() {
        let body = #"{"kind":"Status","status":"Failure","code":409,"reason":"Conflict","message":"resourceVersion 3 is stale; current is 5"}"#
        let error = APIError(response: HTTPClientResponse(status: .conflict, body: ByteBuffer(string: body)))
        #expect(error.description == "Error from server (Conflict): resourceVersion 3 is stale; current is 5")
    }

    @Test func aBodyThatIsNotAStatusIsKeptAsTheMessage() {
        let text = APIError(response: HTTPClientResponse(status: .badGateway, body: ByteBuffer(string: "upstream down\n")))
        #expect(text.description == "Error from server (BadGateway): upstream down")
        let empty = APIError(response: HTTPClientResponse(status: .serviceUnavailable))
        #expect(empty.description == "Error from server (ServiceUnavailable): the server responded with 503 Service Unavailable")
    }
}
