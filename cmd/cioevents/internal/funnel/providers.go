package funnel

import (
	"sort"
	"strings"
)

// Provider is one mailbox provider family and the consumer domains it
// hosts. The table is committed, reviewed by hand, and read on no network
// path: a recipient's provider is a lookup of its domain here, never an MX
// query. A domain outside the table is "other" (company domains hosted by
// Google Workspace or Microsoft 365 included: telling those apart needs an
// MX lookup, which the model does not do).
type Provider struct {
	Name, Desc string
	Domains    []string
}

// ProviderOther is the provider of an email domain outside Providers.
const ProviderOther = "other"

// Providers lists the major consumer mailbox families, global ones first.
var Providers = []Provider{
	{Name: "google", Desc: "Gmail", Domains: []string{"gmail.com", "googlemail.com"}},
	{Name: "microsoft", Desc: "Outlook.com, Hotmail, Live, MSN", Domains: []string{
		"outlook.com", "hotmail.com", "live.com", "msn.com", "passport.com", "windowslive.com",
		"hotmail.co.uk", "hotmail.fr", "hotmail.de", "hotmail.it", "hotmail.es", "hotmail.nl", "hotmail.be", "hotmail.ca",
		"hotmail.com.br", "hotmail.com.ar", "hotmail.com.mx", "live.co.uk", "live.fr", "live.de", "live.it", "live.nl",
		"live.ca", "live.com.mx", "live.com.au", "outlook.fr", "outlook.de", "outlook.es", "outlook.it", "outlook.com.br"}},
	{Name: "yahoo", Desc: "Yahoo and AOL (Yahoo Inc.), and the ISP addresses Yahoo hosts (AT&T, Verizon)", Domains: []string{
		"yahoo.com", "ymail.com", "rocketmail.com", "yahoo.co.uk", "yahoo.fr", "yahoo.de", "yahoo.it", "yahoo.es",
		"yahoo.ca", "yahoo.com.br", "yahoo.com.ar", "yahoo.com.mx", "yahoo.co.in", "yahoo.com.au", "yahoo.co.id",
		"aol.com", "aol.co.uk", "aol.fr", "aol.de", "aim.com", "verizon.net", "att.net", "sbcglobal.net", "bellsouth.net"}},
	{Name: "apple", Desc: "iCloud Mail", Domains: []string{"icloud.com", "me.com", "mac.com"}},
	{Name: "gmx", Desc: "GMX, WEB.DE and mail.com (United Internet)", Domains: []string{
		"gmx.de", "gmx.net", "gmx.at", "gmx.ch", "gmx.com", "gmx.fr", "gmx.co.uk", "web.de", "mail.com", "email.com"}},
	{Name: "t-online", Desc: "Telekom (Germany)", Domains: []string{"t-online.de", "magenta.de"}},
	{Name: "orange", Desc: "Orange (France)", Domains: []string{"orange.fr", "wanadoo.fr"}},
	{Name: "free", Desc: "Free (France)", Domains: []string{"free.fr"}},
	{Name: "sfr", Desc: "SFR (France)", Domains: []string{"sfr.fr", "neuf.fr"}},
	{Name: "libero", Desc: "Italiaonline (Italy)", Domains: []string{"libero.it", "virgilio.it", "inwind.it"}},
	{Name: "seznam", Desc: "Seznam (Czechia)", Domains: []string{"seznam.cz", "email.cz"}},
	{Name: "wp", Desc: "Wirtualna Polska (Poland)", Domains: []string{"wp.pl", "o2.pl"}},
	{Name: "onet", Desc: "Onet (Poland)", Domains: []string{"onet.pl", "op.pl"}},
	{Name: "interia", Desc: "Interia (Poland)", Domains: []string{"interia.pl"}},
	{Name: "yandex", Desc: "Yandex Mail", Domains: []string{"yandex.ru", "yandex.com", "ya.ru", "yandex.ua", "yandex.kz"}},
	{Name: "mail.ru", Desc: "Mail.ru (VK)", Domains: []string{"mail.ru", "bk.ru", "inbox.ru", "list.ru"}},
	{Name: "qq", Desc: "QQ Mail (Tencent)", Domains: []string{"qq.com", "foxmail.com"}},
	{Name: "netease", Desc: "NetEase (China)", Domains: []string{"163.com", "126.com", "yeah.net"}},
	{Name: "naver", Desc: "Naver (South Korea)", Domains: []string{"naver.com"}},
	{Name: "kakao", Desc: "Daum and Kakao (South Korea)", Domains: []string{"daum.net", "hanmail.net", "kakao.com"}},
	{Name: "yahoo-japan", Desc: "Yahoo! JAPAN (LY Corporation, not Yahoo Inc.)", Domains: []string{"yahoo.co.jp"}},
	{Name: "uol", Desc: "UOL and BOL (Brazil)", Domains: []string{"uol.com.br", "bol.com.br"}},
	{Name: "rediff", Desc: "Rediffmail (India)", Domains: []string{"rediffmail.com"}},
	{Name: "comcast", Desc: "Xfinity (United States)", Domains: []string{"comcast.net"}},
	{Name: "charter", Desc: "Spectrum (United States)", Domains: []string{"charter.net", "spectrum.net"}},
	{Name: "cox", Desc: "Cox (United States)", Domains: []string{"cox.net"}},
	{Name: "bt", Desc: "BT (United Kingdom)", Domains: []string{"btinternet.com", "btopenworld.com"}},
	{Name: "sky", Desc: "Sky (United Kingdom)", Domains: []string{"sky.com"}},
	{Name: "virgin-media", Desc: "Virgin Media (United Kingdom)", Domains: []string{"virginmedia.com", "ntlworld.com", "blueyonder.co.uk"}},
	{Name: "shaw-rogers", Desc: "Shaw and Rogers (Canada)", Domains: []string{"shaw.ca", "rogers.com"}},
	{Name: "telstra", Desc: "BigPond (Australia)", Domains: []string{"bigpond.com", "bigpond.net.au", "telstra.com"}},
	{Name: "proton", Desc: "Proton Mail", Domains: []string{"proton.me", "protonmail.com", "protonmail.ch", "pm.me"}},
	{Name: "zoho", Desc: "Zoho Mail (personal)", Domains: []string{"zohomail.com", "zoho.com"}},
}

var providerOf = func() map[string]string {
	m := map[string]string{}
	for _, p := range Providers {
		for _, d := range p.Domains {
			if _, dup := m[d]; dup {
				panic("funnel: domain " + d + " in two providers")
			}
			m[d] = p.Name
		}
	}
	return m
}()

// MailboxProvider maps a recipient domain (lower case) to its provider:
// "" for none (no domain: not an email, or no address), ProviderOther for a
// domain outside the table.
func MailboxProvider(domain string) string {
	if domain == "" {
		return ""
	}
	if p, ok := providerOf[domain]; ok {
		return p
	}
	return ProviderOther
}

// providerSQL is MailboxProvider in GoogleSQL over the domain expression.
func providerSQL(domain string) string {
	var b strings.Builder
	b.WriteString("CASE")
	for _, p := range Providers {
		ds := append([]string(nil), p.Domains...)
		sort.Strings(ds)
		b.WriteString("\n      WHEN " + domain + " IN (" + quoteList(ds) + ") THEN '" + p.Name + "'")
	}
	b.WriteString("\n      WHEN " + domain + " IS NOT NULL THEN '" + ProviderOther + "'\n    END")
	return b.String()
}
