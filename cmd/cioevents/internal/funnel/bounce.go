package funnel

import (
	"regexp"
	"strings"
)

// BounceRule is one row of the bounce classification: the first rule whose
// pattern is found in the bounce's failure message gives the class. The
// enhanced status code (RFC 3463, class.subject.detail, e.g. 5.1.1) decides
// when there is one; the three-digit SMTP reply code (RFC 5321) only when
// not. The patterns are RE2, so BigQuery's REGEXP_CONTAINS and Go's regexp
// read them alike.
type BounceRule struct {
	Class, Pattern, Desc string
}

// Bounce classes.
const (
	BounceHard    = "hard"
	BounceSoft    = "soft"
	BounceBlocked = "blocked"
	BounceOther   = "other"
	BounceUnknown = "unknown"
)

// BounceRules is the classification, in order.
var BounceRules = []BounceRule{
	{BounceHard, `\b5\.1\.[0-9]{1,3}\b`, "5.1.x: bad destination address (no such mailbox, bad domain or syntax): an invalid recipient."},
	{BounceSoft, `\b(4\.[0-9]{1,3}\.[0-9]{1,3}|5\.2\.2)\b`, "4.x.x: a transient failure; 5.2.2: mailbox full."},
	{BounceBlocked, `\b5\.7\.[0-9]{1,3}\b`, "5.7.x: refused by security or policy (reputation, authentication, spam content, blocklists)."},
	{BounceOther, `\b5\.[0-9]{1,3}\.[0-9]{1,3}\b`, "Any other permanent enhanced code (5.2.x mailbox disabled, 5.3.x system, 5.4.x routing, 5.5.x protocol, 5.6.x content)."},
	{BounceSoft, `(^|[^0-9.])4[0-9][0-9]([^0-9.]|$)`, "No enhanced code, a 4xx reply: transient."},
	{BounceOther, `(^|[^0-9.])5[0-9][0-9]([^0-9.]|$)`, "No enhanced code, a 5xx reply: permanent, reason not coded."},
}

// BounceUnknownDesc says when a bounce is unknown.
const BounceUnknownDesc = "No SMTP code in the message, or no message (CIO_PII dropped or hashed failure_message)."

var bounceRes = func() []*regexp.Regexp {
	out := make([]*regexp.Regexp, len(BounceRules))
	for i, r := range BounceRules {
		out[i] = regexp.MustCompile(r.Pattern)
	}
	return out
}()

// Patterns of the codes a bounce message carries, with one capture group.
const (
	smtpCodePattern     = `(?:^|[^0-9.])([245][0-9][0-9])(?:[^0-9.]|$)`
	enhancedCodePattern = `\b([245]\.[0-9]{1,3}\.[0-9]{1,3})\b`
)

var (
	smtpCodeRE     = regexp.MustCompile(smtpCodePattern)
	enhancedCodeRE = regexp.MustCompile(enhancedCodePattern)
)

// BounceClass classifies a bounce's failure message ("": none).
func BounceClass(msg string) string {
	for i, r := range bounceRes {
		if r.MatchString(msg) {
			return BounceRules[i].Class
		}
	}
	return BounceUnknown
}

func extract(re *regexp.Regexp, s string) string {
	m := re.FindStringSubmatch(s)
	if m == nil {
		return ""
	}
	return m[1]
}

// bounceClassSQL is BounceClass in GoogleSQL over msg, NULL unless bounced.
func bounceClassSQL(msg, bounced string) string {
	var b strings.Builder
	b.WriteString("CASE\n      WHEN " + bounced + " IS NULL THEN NULL")
	for _, r := range BounceRules {
		b.WriteString("\n      WHEN REGEXP_CONTAINS(COALESCE(" + msg + ", ''), r'" + r.Pattern + "') THEN '" + r.Class + "'")
	}
	b.WriteString("\n      ELSE '" + BounceUnknown + "'\n    END")
	return b.String()
}
