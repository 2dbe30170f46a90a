{{/* Chart name, overridable with nameOverride. */}}
{{- define "trustgate.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Prefix of every resource name: fullnameOverride, else the release name when it already contains the
chart name, else "<release>-<chart>". Kept to 40 characters so that "<prefix>-agent-node-restriction"
and the other suffixed names stay within 63.
*/}}
{{- define "trustgate.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- $name := include "trustgate.name" . }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "trustgate.controllerName" -}}
{{- printf "%s-controller" (include "trustgate.fullname" .) }}
{{- end }}

{{- define "trustgate.agentName" -}}
{{- printf "%s-agent" (include "trustgate.fullname" .) }}
{{- end }}

{{/* The agent's namespace: agent.namespace, else the release namespace. */}}
{{- define "trustgate.agentNamespace" -}}
{{- default .Release.Namespace .Values.agent.namespace }}
{{- end }}

{{- define "trustgate.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every object. */}}
{{- define "trustgate.labels" -}}
helm.sh/chart: {{ include "trustgate.chart" . }}
app.kubernetes.io/name: {{ include "trustgate.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: trustgate
{{- end }}

{{/* Selector labels of one component; call with (dict "root" $ "component" "controller"). */}}
{{- define "trustgate.selectorLabels" -}}
app.kubernetes.io/name: {{ include "trustgate.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* All labels of one component's objects; call like trustgate.selectorLabels. */}}
{{- define "trustgate.componentLabels" -}}
{{ include "trustgate.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* The image reference: repository@digest when a digest is set, else repository:tag (tag defaults to appVersion). */}}
{{- define "trustgate.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
The documents of a manifest under files/, as a YAML map from kind to object (use with fromYaml).
Fails when a document has no kind or a kind occurs twice, so a change to those files cannot be
dropped silently. Call with (dict "root" $ "path" "files/rbac/agent.yaml").
*/}}
{{- define "trustgate.fileObjects" -}}
{{- $objects := dict }}
{{- $text := .root.Files.Get .path }}
{{- if not $text }}
{{- fail (printf "%s is missing from the chart" .path) }}
{{- end }}
{{- range $doc := regexSplit "(?m)^---[ \\t]*$" $text -1 }}
{{- $object := fromYaml $doc }}
{{- if $object }}
{{- if hasKey $object "Error" }}
{{- fail (printf "%s: %s" $.path $object.Error) }}
{{- end }}
{{- if not $object.kind }}
{{- fail (printf "%s: a document has no kind" $.path) }}
{{- end }}
{{- if hasKey $objects $object.kind }}
{{- fail (printf "%s: kind %s occurs twice; the chart renders one of each" $.path $object.kind) }}
{{- end }}
{{- $_ := set $objects $object.kind $object }}
{{- end }}
{{- end }}
{{- toYaml $objects }}
{{- end }}

{{/* Egress every component needs: the API server and cluster DNS (a NetworkPolicyEgressRule list). */}}
{{- define "trustgate.baseEgress" -}}
# The Kubernetes API server (Service port and endpoint port: policies see the endpoint after NAT).
- ports:
    {{- range .Values.networkPolicy.apiServer.ports }}
    - protocol: TCP
      port: {{ . }}
    {{- end }}
  {{- with .Values.networkPolicy.apiServer.cidrs }}
  to:
    {{- range . }}
    - ipBlock:
        cidr: {{ . }}
    {{- end }}
  {{- end }}
# Cluster DNS.
- to:
    - namespaceSelector:
        matchLabels:
          kubernetes.io/metadata.name: {{ .Values.networkPolicy.dns.namespace }}
      podSelector:
        matchLabels:
          {{- toYaml .Values.networkPolicy.dns.podLabels | nindent 10 }}
  ports:
    - protocol: UDP
      port: 53
    - protocol: TCP
      port: 53
{{- end }}

{{- define "trustgate.webhookName" -}}
{{- printf "%s-webhook" (include "trustgate.fullname" .) }}
{{- end }}

{{/* The webhook's serving-certificate Secret (self-managed, or written by cert-manager). */}}
{{- define "trustgate.webhookSecretName" -}}
{{- printf "%s-webhook-tls" (include "trustgate.fullname" .) }}
{{- end }}

{{/* What every webhook of the ValidatingWebhookConfiguration shares; call with (dict "root" $ "path" "/validate/..."). */}}
{{- define "trustgate.webhookCommon" -}}
admissionReviewVersions: [v1]
{{- /* Audit mode records Events, never on a dry run. */}}
sideEffects: {{ ternary "NoneOnDryRun" "None" (eq .root.Values.webhook.mode "audit") }}
failurePolicy: {{ .root.Values.webhook.failurePolicy }}
matchPolicy: Equivalent
timeoutSeconds: {{ .root.Values.webhook.timeoutSeconds }}
clientConfig:
  service:
    name: {{ include "trustgate.webhookName" .root }}
    namespace: {{ .root.Release.Namespace }}
    path: {{ .path }}
    port: 443
{{- end }}

{{/* Intel PCS, the default of controller.collateral.intel.pcsUrl: a pccsUrl may only replace this one. */}}
{{- define "trustgate.intelPcsUrl" -}}
https://api.trustedservices.intel.com
{{- end }}

{{/* Where the controller container finds its collateral volumes; call with the item's name. */}}
{{- define "trustgate.collateralPath" -}}
{{- $paths := dict
  "cache" "/var/cache/trustgate/collateral"
  "rimCache" "/var/cache/trustgate/collateral/rims"
  "mirror" "/var/lib/trustgate/collateral-mirror"
  "caBundleDir" "/etc/trustgate/collateral-ca"
  "caBundle" "/etc/trustgate/collateral-ca/ca.crt"
  "apiKeyDir" "/etc/trustgate/intel-pcs"
  "apiKey" "/etc/trustgate/intel-pcs/api-key"
  "extraCaDir" "/etc/trustgate/extra-ca"
  "extraCa" "/etc/trustgate/extra-ca/ca.crt" }}
{{- required (printf "trustgate.collateralPath: no path %q" .) (get $paths .) }}
{{- end }}

{{/*
The controller's NO_PROXY: the API server (its in-cluster address, expanded by the kubelet, and its
names), the cluster's Services, loopback, then controller.proxy.noProxy.
*/}}
{{- define "trustgate.noProxy" -}}
{{- $entries := list "$(KUBERNETES_SERVICE_HOST)" "kubernetes.default.svc" ".svc" (printf ".%s" .Values.webhook.clusterDomain) "localhost" "127.0.0.1" }}
{{- join "," (concat $entries .Values.controller.proxy.noProxy | uniq) }}
{{- end }}

{{/* The TCP ports of the controller's proxy, as a JSON list: networkPolicy.proxy.ports, else from the proxy URLs. */}}
{{- define "trustgate.proxyPorts" -}}
{{- $ports := list }}
{{- if .Values.networkPolicy.proxy.ports }}
{{- $ports = .Values.networkPolicy.proxy.ports }}
{{- else }}
{{- range (list .Values.controller.proxy.httpsProxy .Values.controller.proxy.httpProxy) }}
{{- if . }}
{{- $url := urlParse . }}
{{- $port := regexFind "[0-9]+$" (regexFind ":[0-9]+$" $url.host) }}
{{- if not $port }}
{{- $port = ternary "443" "80" (eq $url.scheme "https") }}
{{- end }}
{{- $ports = append $ports (int $port) }}
{{- end }}
{{- end }}
{{- end }}
{{- toJson ($ports | uniq) }}
{{- end }}

{{/*
The TCP ports of networkPolicy.attestationServices, as a JSON list: its ports, plus the explicit port of
each collateral URL that names one (a PCCS usually listens on 8081).
*/}}
{{- define "trustgate.attestationPorts" -}}
{{- $ports := .Values.networkPolicy.attestationServices.ports }}
{{- $col := .Values.controller.collateral }}
{{- range (list $col.intel.pcsUrl $col.intel.pccsUrl $col.intel.rootCaCrlUrl $col.amd.kdsUrl) }}
{{- if hasPrefix "https://" . }}
{{- $port := regexFind "[0-9]+$" (regexFind ":[0-9]+$" (urlParse .).host) }}
{{- if $port }}
{{- $ports = append $ports (int $port) }}
{{- end }}
{{- end }}
{{- end }}
{{- toJson ($ports | uniq) }}
{{- end }}

{{/* One ServiceMonitor endpoint for a component's metrics port (the controller's and the webhook's). */}}
{{- define "trustgate.metricsEndpoint" -}}
{{- $sm := .Values.metrics.serviceMonitor -}}
- port: metrics
  path: /metrics
  scheme: http
  interval: {{ $sm.interval }}
  scrapeTimeout: {{ $sm.scrapeTimeout }}
  # trustgate_attestation_expiry_timestamp_seconds{namespace,name} names the ConfidentialVM's namespace, not the Pod's.
  honorLabels: true
  {{- with $sm.relabelings }}
  relabelings:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $sm.metricRelabelings }}
  metricRelabelings:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
