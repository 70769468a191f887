package dashboard

import (
	"context"
	"net/mail"
	"strings"

	"golang.org/x/crypto/bcrypt"

	"github.com/parleyhq/parley"
	"github.com/parleyhq/parley/store"
)

// NewUser is a dashboard user to create, with a plain-text password.
type NewUser struct {
	TenantID string
	Email    string
	Name     string
	Role     parley.UserRole // default admin: the first user sets everything up
	AgentID  string          // optional: the human agent this user works as
	Password string
}

// Password length bounds: bcrypt reads at most 72 bytes.
const (
	MinPassword = 10
	MaxPassword = 72
)

// CreateUser validates u, hashes its password with bcrypt and stores it.
// Bad input is a field error naming the field; nothing is stored then.
func CreateUser(ctx context.Context, st *store.Store, u NewUser) (parley.User, error) {
	email := strings.ToLower(strings.TrimSpace(u.Email))
	if addr, err := mail.ParseAddress(email); err != nil || addr.Address != email || len(email) > 320 {
		return parley.User{}, parley.FieldError("email", "%q is not an e-mail address", u.Email)
	}
	name := strings.TrimSpace(u.Name)
	if name == "" || len(name) > 200 {
		return parley.User{}, parley.FieldError("name", "is required (at most 200 characters)")
	}
	if u.Role == "" {
		u.Role = parley.UserAdmin
	}
	if !u.Role.Valid() {
		return parley.User{}, parley.FieldError("role", "%q is not a role (use admin or agent)", u.Role)
	}
	if len(u.Password) < MinPassword || len(u.Password) > MaxPassword {
		return parley.User{}, parley.FieldError("password", "must be %d to %d bytes long", MinPassword, MaxPassword)
	}
	if _, err := st.GetTenant(ctx, u.TenantID); err != nil {
		if parley.ErrorCode(err) == parley.CodeNotFound {
			return parley.User{}, parley.FieldError("tenant", "no tenant with id %q", u.TenantID)
		}
		return parley.User{}, err
	}
	if u.AgentID != "" {
		if _, err := st.GetAgent(ctx, u.TenantID, u.AgentID); err != nil {
			if parley.ErrorCode(err) == parley.CodeNotFound {
				return parley.User{}, parley.FieldError("agent", "the tenant has no agent with id %q", u.AgentID)
			}
			return parley.User{}, err
		}
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(u.Password), bcrypt.DefaultCost)
	if err != nil {
		return parley.User{}, err
	}
	return st.CreateUser(ctx, parley.User{TenantID: u.TenantID, Email: email, Name: name, Role: u.Role, AgentID: u.AgentID, PasswordHash: string(hash)})
}
