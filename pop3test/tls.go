package pop3test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"sync"
	"time"
)

// testCertificate is the self-signed certificate every server of this
// package presents, made once per process.
var testCertificate = sync.OnceValue(func() tls.Certificate {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic("pop3test: generating a key: " + err.Error())
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		panic("pop3test: " + err.Error())
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{Organization: []string{"pop3test"}, CommonName: "pop3test"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic("pop3test: creating the certificate: " + err.Error())
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		panic("pop3test: " + err.Error())
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
})

// Certificate returns the self-signed certificate that the servers of this
// package present over TLS, unless a Mailbox's TLS field gives another. It is
// valid for 127.0.0.1, ::1 and localhost, and is made once per process.
func Certificate() *x509.Certificate {
	return testCertificate().Leaf
}

// CertPool returns a new pool holding only [Certificate], for a client's
// tls.Config.RootCAs.
func CertPool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(Certificate())
	return pool
}

// ClientTLSConfig returns a new client configuration that trusts
// [Certificate] alone and requires TLS 1.2 or later. Dialling 127.0.0.1,
// ::1 or localhost with it verifies the server's certificate, as a client
// must.
func ClientTLSConfig() *tls.Config {
	return &tls.Config{RootCAs: CertPool(), MinVersion: tls.VersionTLS12}
}

// serverTLSConfig returns base, or a default, with [Certificate] added if it
// has no certificate.
func serverTLSConfig(base *tls.Config) *tls.Config {
	if base != nil && (len(base.Certificates) > 0 || base.GetCertificate != nil || base.GetConfigForClient != nil) {
		return base
	}
	var cfg *tls.Config
	if base != nil {
		cfg = base.Clone()
	} else {
		cfg = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	cfg.Certificates = []tls.Certificate{testCertificate()}
	return cfg
}

// serverTLSConfig returns the configuration of the Mailbox's TLS sessions.
func (m *Mailbox) serverTLSConfig() *tls.Config {
	m.tlsOnce.Do(func() { m.tlsConfig = serverTLSConfig(m.TLS) })
	return m.tlsConfig
}

// CertPool returns a new pool that trusts the certificate the Mailbox
// presents over TLS: [Certificate], or the first certificate of the TLS
// field when that has one.
func (m *Mailbox) CertPool() *x509.CertPool {
	cfg := m.serverTLSConfig()
	if len(cfg.Certificates) == 0 || len(cfg.Certificates[0].Certificate) == 0 {
		return CertPool()
	}
	pool := x509.NewCertPool()
	if cert, err := x509.ParseCertificate(cfg.Certificates[0].Certificate[0]); err == nil {
		pool.AddCert(cert)
	}
	return pool
}

// ClientTLSConfig returns a new client configuration that trusts the
// Mailbox's certificate (see [Mailbox.CertPool]) and requires TLS 1.2 or
// later, like the client of httptest.NewTLSServer.
func (m *Mailbox) ClientTLSConfig() *tls.Config {
	return &tls.Config{RootCAs: m.CertPool(), MinVersion: tls.VersionTLS12}
}
