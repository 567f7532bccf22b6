module github.com/popwire/pop3

go 1.24
