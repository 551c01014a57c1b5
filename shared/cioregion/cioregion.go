// Package cioregion picks a Customer.io API host: the one of the account's
// data region, or an override (a fake, a proxy). The Track and App API
// clients share it so both read CIO_REGION the same way.
package cioregion

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	customerio "github.com/customerio/go-customerio/v3"
)

// BaseURL returns override, checked and without a trailing slash, or else
// the host host(r) of region ("us", the default, or "eu"). host is a
// customerio.Region method such as customerio.Region.TrackURL.
func BaseURL(region, override string, host func(customerio.Region) string) (string, error) {
	var r customerio.Region
	switch strings.ToLower(strings.TrimSpace(region)) {
	case "", "us":
		r = customerio.RegionUS
	case "eu":
		r = customerio.RegionEU
	default:
		//lint:ignore ST1005 the message starts with the name Customer.io, which is spelled with a capital
		return "", fmt.Errorf("Customer.io region %q is not \"us\" or \"eu\"", region)
	}
	if override == "" {
		return host(r), nil
	}
	u, err := url.Parse(override)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		//lint:ignore ST1005 the message starts with the name Customer.io, which is spelled with a capital
		return "", errors.New("Customer.io base URL must be an http(s) URL with a host and no credentials")
	}
	return strings.TrimRight(override, "/"), nil
}
