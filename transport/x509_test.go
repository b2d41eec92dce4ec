package transport

import "crypto/x509"

type (
	x509UnknownAuthority   = x509.UnknownAuthorityError
	x509CertificateInvalid = x509.CertificateInvalidError
)

const x509Expired = x509.Expired
