module github.com/popwire/pop3

go 1.26.0

require (
	github.com/Azure/go-ntlmssp v0.1.1
	github.com/emersion/go-sasl v0.0.0-20241020182733-b788ff22d5a6
	go.uber.org/goleak v1.3.0
	golang.org/x/net v0.62.0
	golang.org/x/text v0.44.0
)
