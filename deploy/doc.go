// Package deploy holds no code: its tests check the deployment kit beside it
// (k8s/ manifests, the root docker-compose.yml) against the Kubernetes API
// types and against the stanft binary's real flags and configuration parser.
package deploy
