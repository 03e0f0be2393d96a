package wire

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/streamsql/streamsql/sqlerr"
)

const scramIterations = 4096

func isLoopback(a net.Addr) bool {
	switch t := a.(type) {
	case *net.TCPAddr:
		return t.IP.IsLoopback()
	case *net.UnixAddr:
		return true
	}
	return false
}

func authFailed(user string) *sqlerr.Error {
	return sqlerr.New(sqlerr.InvalidPassword, "password authentication failed for user %q", user)
}

// authenticate runs the configured authentication exchange for user.
func (c *conn) authenticate(user string) error {
	if len(c.srv.Auth.Users) == 0 {
		if !isLoopback(c.nc.RemoteAddr()) {
			return sqlerr.New(sqlerr.InvalidAuthSpec, "no password is configured: connections are accepted from loopback only")
		}
		return nil
	}
	password, known := c.srv.Auth.Users[user]
	if !known {
		password, known = c.srv.Auth.Users["*"]
	}
	if c.srv.Auth.Cleartext {
		c.be.Send(&pgproto3.AuthenticationCleartextPassword{})
		if err := c.be.Flush(); err != nil {
			return err
		}
		if err := c.be.SetAuthType(pgproto3.AuthTypeCleartextPassword); err != nil {
			return err
		}
		msg, err := c.be.Receive()
		if err != nil {
			return err
		}
		pm, ok := msg.(*pgproto3.PasswordMessage)
		if !ok || !known || !hmac.Equal([]byte(pm.Password), []byte(password)) {
			return authFailed(user)
		}
		return nil
	}
	return c.scram(user, password, known)
}

// scram is the server side of SCRAM-SHA-256 (RFC 5802, RFC 7677), without
// channel binding.
func (c *conn) scram(user, password string, known bool) error {
	c.be.Send(&pgproto3.AuthenticationSASL{AuthMechanisms: []string{"SCRAM-SHA-256"}})
	if err := c.be.Flush(); err != nil {
		return err
	}
	if err := c.be.SetAuthType(pgproto3.AuthTypeSASL); err != nil {
		return err
	}
	msg, err := c.be.Receive()
	if err != nil {
		return err
	}
	init, ok := msg.(*pgproto3.SASLInitialResponse)
	if !ok || init.AuthMechanism != "SCRAM-SHA-256" {
		return sqlerr.New(sqlerr.ProtocolViolation, "expected SASL SCRAM-SHA-256 initial response")
	}
	clientFirst := string(init.Data)
	// gs2 header: "n,," or "y,,"; then client-first-message-bare
	parts := strings.SplitN(clientFirst, ",", 3)
	if len(parts) != 3 || (parts[0] != "n" && parts[0] != "y") {
		return sqlerr.New(sqlerr.ProtocolViolation, "malformed SCRAM message")
	}
	bare := parts[2]
	clientNonce := ""
	for _, kv := range strings.Split(bare, ",") {
		if strings.HasPrefix(kv, "r=") {
			clientNonce = kv[2:]
		}
	}
	if clientNonce == "" {
		return sqlerr.New(sqlerr.ProtocolViolation, "malformed SCRAM message: no nonce")
	}
	salt := make([]byte, 16)
	nonce := make([]byte, 18)
	_, _ = rand.Read(salt)
	_, _ = rand.Read(nonce)
	fullNonce := clientNonce + base64.StdEncoding.EncodeToString(nonce)
	serverFirst := fmt.Sprintf("r=%s,s=%s,i=%d", fullNonce, base64.StdEncoding.EncodeToString(salt), scramIterations)
	c.be.Send(&pgproto3.AuthenticationSASLContinue{Data: []byte(serverFirst)})
	if err := c.be.Flush(); err != nil {
		return err
	}
	if err := c.be.SetAuthType(pgproto3.AuthTypeSASLContinue); err != nil {
		return err
	}
	msg, err = c.be.Receive()
	if err != nil {
		return err
	}
	resp, ok := msg.(*pgproto3.SASLResponse)
	if !ok {
		return sqlerr.New(sqlerr.ProtocolViolation, "expected SASL response")
	}
	clientFinal := string(resp.Data)
	i := strings.LastIndex(clientFinal, ",p=")
	if i < 0 {
		return sqlerr.New(sqlerr.ProtocolViolation, "malformed SCRAM final message")
	}
	withoutProof := clientFinal[:i]
	proof, err := base64.StdEncoding.DecodeString(clientFinal[i+3:])
	if err != nil || !strings.Contains(withoutProof, "r="+fullNonce) {
		return authFailed(user)
	}
	salted, err := pbkdf2.Key(sha256.New, password, salt, scramIterations, 32)
	if err != nil {
		return err
	}
	clientKey := hmacSHA256(salted, "Client Key")
	storedKey := sha256.Sum256(clientKey)
	authMessage := bare + "," + serverFirst + "," + withoutProof
	clientSig := hmacSHA256(storedKey[:], authMessage)
	if len(proof) != len(clientSig) {
		return authFailed(user)
	}
	recovered := make([]byte, len(proof))
	for k := range proof {
		recovered[k] = proof[k] ^ clientSig[k]
	}
	check := sha256.Sum256(recovered)
	if !known || !hmac.Equal(check[:], storedKey[:]) {
		return authFailed(user)
	}
	serverKey := hmacSHA256(salted, "Server Key")
	serverSig := hmacSHA256(serverKey, authMessage)
	c.be.Send(&pgproto3.AuthenticationSASLFinal{Data: []byte("v=" + base64.StdEncoding.EncodeToString(serverSig))})
	return nil
}

func hmacSHA256(key []byte, msg string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(msg))
	return h.Sum(nil)
}
