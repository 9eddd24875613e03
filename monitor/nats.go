package monitor

import (
	"expvar"
	"net/http"

	natsserver "github.com/nats-io/nats-server/v2/server"
)

// NATSHandler returns the embedded NATS server's monitoring endpoints
// (/, /varz, /connz, /routez, /gatewayz, /leafz, /subsz, /subscriptionsz,
// /stacksz, /accountz, /accstatz, /jsz, /healthz, /ipqueuesz, /raftz,
// /expvarz) as one handler, for Config.NATSHandler. Unlike
// ns.HTTPHandler(), it needs no NATS monitoring listener: start the NATS
// server with HTTPPort and HTTPSPort 0 and let the Monitor own the -m/-ms
// ports, so the two never compete for one port. NATS's HTTPBasePath is not
// applied. The NATS /varz then reports http_port 0.
func NATSHandler(ns *natsserver.Server) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc(natsserver.RootPath, ns.HandleRoot)
	mux.HandleFunc(natsserver.VarzPath, ns.HandleVarz)
	mux.HandleFunc(natsserver.ConnzPath, ns.HandleConnz)
	mux.HandleFunc(natsserver.RoutezPath, ns.HandleRoutez)
	mux.HandleFunc(natsserver.GatewayzPath, ns.HandleGatewayz)
	mux.HandleFunc(natsserver.LeafzPath, ns.HandleLeafz)
	mux.HandleFunc(natsserver.SubszPath, ns.HandleSubsz)
	mux.HandleFunc("/subscriptionsz", ns.HandleSubsz)
	mux.HandleFunc(natsserver.StackszPath, ns.HandleStacksz)
	mux.HandleFunc(natsserver.AccountzPath, ns.HandleAccountz)
	mux.HandleFunc(natsserver.AccountStatzPath, ns.HandleAccountStatz)
	mux.HandleFunc(natsserver.JszPath, ns.HandleJsz)
	mux.HandleFunc(natsserver.HealthzPath, ns.HandleHealthz)
	mux.HandleFunc(natsserver.IPQueuesPath, ns.HandleIPQueuesz)
	mux.HandleFunc(natsserver.RaftzPath, ns.HandleRaftz)
	mux.Handle(natsserver.ExpvarzPath, expvar.Handler())
	return mux
}
