{{/* Names and labels. */}}

{{- define "p2pwall.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "p2pwall.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* A resource name: fullname-suffix. Refused rather than cut, so two sites never collide. */}}
{{- define "p2pwall.resourceName" -}}
{{- $name := printf "%s-%s" (include "p2pwall.fullname" .root) .suffix -}}
{{- if gt (len $name) 63 -}}
{{- fail (printf "resource name %q is longer than 63 characters: shorten the release name, fullnameOverride or the site name" $name) -}}
{{- end -}}
{{- $name -}}
{{- end -}}

{{- define "p2pwall.selectorLabels" -}}
app.kubernetes.io/name: {{ include "p2pwall.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- with .site }}
p2pwall.io/site: {{ . }}
{{- end }}
{{- end -}}

{{- define "p2pwall.labels" -}}
{{ include "p2pwall.selectorLabels" . }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: p2pwall
{{- with .root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* image: repository[:tag], with the registry prefix and the appVersion as default tag. */}}
{{- define "p2pwall.image" -}}
{{- $repository := .image.repository -}}
{{- with .root.Values.imageRegistry -}}
{{- $repository = printf "%s/%s" (trimSuffix "/" .) $repository -}}
{{- end -}}
{{- printf "%s:%s" $repository (default .root.Chart.AppVersion .image.tag) -}}
{{- end -}}

{{/* Connections. */}}

{{/* The NATS servers: the bundled chart's Service when nats.enabled, else connections.nats.servers. */}}
{{- define "p2pwall.natsServers" -}}
{{- if .Values.nats.enabled -}}
{{- $name := "" -}}
{{- if .Values.nats.fullnameOverride -}}
{{- $name = .Values.nats.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $chartName := default "nats" .Values.nats.nameOverride -}}
{{- $name = ternary .Release.Name (printf "%s-%s" .Release.Name $chartName) (contains $chartName .Release.Name) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- list (printf "nats://%s.%s.svc:4222" $name .Release.Namespace) | toJson -}}
{{- else -}}
{{- if empty .Values.connections.nats.servers -}}
{{- fail "connections.nats.servers: list the NATS servers, or set nats.enabled=true" -}}
{{- end -}}
{{- .Values.connections.nats.servers | toJson -}}
{{- end -}}
{{- end -}}

{{- define "p2pwall.connectionsSecretName" -}}
{{- include "p2pwall.resourceName" (dict "root" . "suffix" "connections") -}}
{{- end -}}

{{/* Whether the chart must make the Secret for inline connection credentials. */}}
{{- define "p2pwall.inlineConnectionSecrets" -}}
{{- $nats := .Values.connections.nats.auth -}}
{{- $redis := .Values.connections.redis.auth -}}
{{- if or (and (not $nats.existingSecret) (or $nats.password $nats.token $nats.creds)) (and (not $redis.existingSecret) $redis.password) -}}
true
{{- end -}}
{{- end -}}

{{/*
The connections one workload uses: the global ones, with a site's own credentials over them.
Checks them, so a missing secret fails the render with the key to set.
Input: dict root, site (or nil), where (for messages). Output: YAML.
*/}}
{{- define "p2pwall.connections" -}}
{{- $conn := deepCopy .root.Values.connections -}}
{{- if .site -}}
{{- with .site.connections -}}
{{- $conn = mergeOverwrite $conn (deepCopy .) -}}
{{- end -}}
{{- end -}}
{{- $nats := $conn.nats.auth -}}
{{- $natsSecret := default (include "p2pwall.connectionsSecretName" .root) $nats.existingSecret -}}
{{- if eq $nats.method "password" -}}
{{- if not $nats.user -}}{{- fail (printf "%s: connections.nats.auth.user is required for method password" .where) -}}{{- end -}}
{{- if not (or $nats.existingSecret $nats.password) -}}{{- fail (printf "%s: connections.nats.auth needs existingSecret or password for method password" .where) -}}{{- end -}}
{{- else if eq $nats.method "token" -}}
{{- if not (or $nats.existingSecret $nats.token) -}}{{- fail (printf "%s: connections.nats.auth needs existingSecret or token for method token" .where) -}}{{- end -}}
{{- else if eq $nats.method "creds" -}}
{{- if not (or $nats.existingSecret $nats.creds) -}}{{- fail (printf "%s: connections.nats.auth needs existingSecret or creds for method creds" .where) -}}{{- end -}}
{{- end -}}
{{- if and $conn.nats.tls.enabled (not $conn.nats.tls.existingSecret) -}}
{{- fail (printf "%s: connections.nats.tls.existingSecret (the Secret holding the CA) is required with tls.enabled" .where) -}}
{{- end -}}
{{- $redis := $conn.redis.auth -}}
{{- if and $conn.redis.tls.enabled (not (hasPrefix "rediss://" $conn.redis.url)) -}}
{{- fail (printf "%s: connections.redis.url must start with rediss:// when connections.redis.tls.enabled is true" .where) -}}
{{- end -}}
{{- if and $conn.redis.tls.enabled (not $conn.redis.tls.existingSecret) -}}
{{- fail (printf "%s: connections.redis.tls.existingSecret (the Secret holding the CA) is required with tls.enabled" .where) -}}
{{- end -}}
natsServers: {{ include "p2pwall.natsServers" .root }}
nats:
  {{- toYaml $conn.nats | nindent 2 }}
  secretName: {{ $natsSecret }}
redis:
  {{- toYaml $conn.redis | nindent 2 }}
  secretName: {{ default (include "p2pwall.connectionsSecretName" .root) $redis.existingSecret }}
  hasPassword: {{ if or $redis.existingSecret $redis.password }}true{{ else }}false{{ end }}
{{- end -}}

{{/* Where secret files are mounted (the same paths in the sensor and the brain). */}}
{{- define "p2pwall.paths" -}}
natsCreds: /etc/p2pwall/nats/creds
natsTlsDir: /etc/p2pwall/tls/nats
redisTlsDir: /etc/p2pwall/tls/redis
apiTokensDir: /etc/p2pwall/api-tokens
apiTlsDir: /etc/p2pwall/tls/api
notificationsDir: /etc/p2pwall/notifications
{{- end -}}

{{/*
Environment variables that carry secrets into a process: the services read
<prefix><KEY__PATH>. Input: dict conn (from p2pwall.connections), natsPrefix, redisPrefix, nats, redis (bools: which halves are used).
*/}}
{{- define "p2pwall.secretEnv" -}}
{{- $conn := .conn -}}
{{- if .nats -}}
{{- if eq $conn.nats.auth.method "password" }}
- name: {{ .natsPrefix }}PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $conn.nats.secretName }}
      key: {{ $conn.nats.auth.keys.password }}
{{- else if eq $conn.nats.auth.method "token" }}
- name: {{ .natsPrefix }}TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ $conn.nats.secretName }}
      key: {{ $conn.nats.auth.keys.token }}
{{- end -}}
{{- end -}}
{{- if and .redis $conn.redis.hasPassword }}
- name: {{ .redisPrefix }}PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $conn.redis.secretName }}
      key: {{ $conn.redis.auth.keys.password }}
{{- end -}}
{{- end -}}

{{/* Volumes for a NATS .creds file and TLS material. Input: dict conn, nats, redis. */}}
{{- define "p2pwall.secretVolumes" -}}
{{- $conn := .conn -}}
{{- if and .nats (eq $conn.nats.auth.method "creds") }}
- name: nats-creds
  secret:
    secretName: {{ $conn.nats.secretName }}
    defaultMode: 0440
    items:
      - key: {{ $conn.nats.auth.keys.creds }}
        path: creds
{{- end -}}
{{- if and .nats $conn.nats.tls.enabled }}
- name: nats-tls
  secret:
    secretName: {{ $conn.nats.tls.existingSecret }}
    defaultMode: 0440
    items:
      - key: {{ $conn.nats.tls.keys.ca }}
        path: ca.crt
      {{- if $conn.nats.tls.clientCert }}
      - key: {{ $conn.nats.tls.keys.cert }}
        path: tls.crt
      - key: {{ $conn.nats.tls.keys.key }}
        path: tls.key
      {{- end }}
{{- end -}}
{{- if and .redis $conn.redis.tls.enabled }}
- name: redis-tls
  secret:
    secretName: {{ $conn.redis.tls.existingSecret }}
    defaultMode: 0440
    items:
      - key: {{ $conn.redis.tls.keys.ca }}
        path: ca.crt
      {{- if $conn.redis.tls.clientCert }}
      - key: {{ $conn.redis.tls.keys.cert }}
        path: tls.crt
      - key: {{ $conn.redis.tls.keys.key }}
        path: tls.key
      {{- end }}
{{- end -}}
{{- end -}}

{{- define "p2pwall.secretVolumeMounts" -}}
{{- $conn := .conn -}}
{{- $paths := include "p2pwall.paths" . | fromYaml -}}
{{- if and .nats (eq $conn.nats.auth.method "creds") }}
- name: nats-creds
  mountPath: {{ dir $paths.natsCreds }}
  readOnly: true
{{- end -}}
{{- if and .nats $conn.nats.tls.enabled }}
- name: nats-tls
  mountPath: {{ $paths.natsTlsDir }}
  readOnly: true
{{- end -}}
{{- if and .redis $conn.redis.tls.enabled }}
- name: redis-tls
  mountPath: {{ $paths.redisTlsDir }}
  readOnly: true
{{- end -}}
{{- end -}}

{{/* TLS file paths for a config: dict tls (connections.*.tls), dir. Output: YAML map ca/cert/key. */}}
{{- define "p2pwall.tlsFiles" -}}
ca: {{ printf "%s/ca.crt" .dir }}
cert: {{ ternary (printf "%s/tls.crt" .dir) "null" .tls.clientCert }}
key: {{ ternary (printf "%s/tls.key" .dir) "null" .tls.clientCert }}
{{- end -}}

{{/* Sensor sites. */}}

{{/* One site with siteDefaults under it. Output: YAML. */}}
{{- define "p2pwall.site" -}}
{{- $site := mergeOverwrite (deepCopy .root.Values.sensor.siteDefaults) (deepCopy .site) -}}
{{- if empty $site.nodeSelector -}}
{{- $_ := set $site "nodeSelector" (dict "p2pwall.io/site" $site.name "p2pwall.io/gateway" "true") -}}
{{- end -}}
{{- toYaml $site -}}
{{- end -}}

{{/* The sensor's container command: derive the gateway id from the node name, then run one queue. */}}
{{- define "p2pwall.sensorScript" -}}
{{- if eq .site.gatewayName "node" -}}
gateway=$(printf '%s' "$NODE_NAME" | tr . -)
{{- else -}}
gateway=$(printf '%s' "$NODE_NAME" | cut -d. -f1)
{{- end }}
export P2PWALL_SENSOR_GATEWAY="$gateway"
exec p2pwall-sensor run --config /etc/p2pwall/sensor.yaml --queue {{ .queue }}{{ if not .managesRules }} --no-rules{{ end }}
{{- end -}}

{{/*
sensor.yaml of one site: what the chart decides (paths, telemetry, uplink), then sensor.config,
then the site's config, then the site's structured keys. Input: dict root, site, conn.
*/}}
{{- define "p2pwall.sensorConfig" -}}
{{- $root := .root -}}
{{- $site := .site -}}
{{- $conn := .conn -}}
{{- $paths := include "p2pwall.paths" . | fromYaml -}}
{{- $telemetry := dict "listen" (dict "port" (int $root.Values.sensor.telemetry.port)) "otlp" (dict "endpoint" $root.Values.telemetry.otlpEndpoint) -}}
{{- if not $root.Values.sensor.telemetry.bindHostIP -}}
{{- $_ := set $telemetry.listen "host" $root.Values.sensor.telemetry.listenHost -}}
{{- end -}}
{{- $config := dict "storefile" "/var/lib/p2pwall/peers.store" "telemetry" $telemetry -}}
{{- $uplink := dict -}}
{{- if $root.Values.sensor.uplink.nats -}}
{{- $nats := dict "servers" (include "p2pwall.natsServers" $root | fromJsonArray) -}}
{{- if eq $conn.nats.auth.method "password" -}}
{{- $_ := set $nats "user" $conn.nats.auth.user -}}
{{- else if eq $conn.nats.auth.method "creds" -}}
{{- $_ := set $nats "credsFile" $paths.natsCreds -}}
{{- end -}}
{{- if $conn.nats.tls.enabled -}}
{{- $_ := set $nats "tls" (include "p2pwall.tlsFiles" (dict "tls" $conn.nats.tls "dir" $paths.natsTlsDir) | fromYaml) -}}
{{- end -}}
{{- $_ := set $uplink "nats" $nats -}}
{{- end -}}
{{- if $root.Values.sensor.uplink.redis -}}
{{- $redis := dict "url" $conn.redis.url "snapshotFile" "/var/lib/p2pwall/blocklist.snapshot" -}}
{{- with $conn.redis.auth.username -}}
{{- $_ := set $redis "username" . -}}
{{- end -}}
{{- if $conn.redis.tls.enabled -}}
{{- $_ := set $redis "tls" (include "p2pwall.tlsFiles" (dict "tls" $conn.redis.tls "dir" $paths.redisTlsDir) | fromYaml) -}}
{{- end -}}
{{- $_ := set $uplink "redis" $redis -}}
{{- end -}}
{{- if $uplink -}}
{{- $_ := set $config "uplink" $uplink -}}
{{- end -}}
{{- $structured := dict "site" $site.name "inside" $site.inside "mode" $site.mode "onExit" $site.onExit "queue" (dict "numbers" $site.queues "failOpen" $site.failOpen) -}}
{{- $config = mergeOverwrite $config (deepCopy $root.Values.sensor.config) (deepCopy ($site.config | default dict)) $structured -}}
{{- toYaml $config -}}
{{- end -}}

{{/* brain.yaml: what the chart decides, with brain.config over it. Input: dict root, conn. */}}
{{- define "p2pwall.brainConfig" -}}
{{- $root := .root -}}
{{- $conn := .conn -}}
{{- $paths := include "p2pwall.paths" . | fromYaml -}}
{{- $nats := dict "servers" (include "p2pwall.natsServers" $root | fromJsonArray) -}}
{{- if eq $conn.nats.auth.method "password" -}}
{{- $_ := set $nats "user" $conn.nats.auth.user -}}
{{- else if eq $conn.nats.auth.method "creds" -}}
{{- $_ := set $nats "creds" $paths.natsCreds -}}
{{- end -}}
{{- if $conn.nats.tls.enabled -}}
{{- $_ := set $nats "tls" (mergeOverwrite (dict "enabled" true) (include "p2pwall.tlsFiles" (dict "tls" $conn.nats.tls "dir" $paths.natsTlsDir) | fromYaml)) -}}
{{- end -}}
{{- $redis := dict "url" $conn.redis.url -}}
{{- with $conn.redis.auth.username -}}
{{- $_ := set $redis "username" . -}}
{{- end -}}
{{- if $conn.redis.tls.enabled -}}
{{- $_ := set $redis "tls" (mergeOverwrite (dict "enabled" true) (include "p2pwall.tlsFiles" (dict "tls" $conn.redis.tls "dir" $paths.redisTlsDir) | fromYaml)) -}}
{{- end -}}
{{- $api := dict "listen" (dict "host" "0.0.0.0" "port" (int $root.Values.brain.api.port)) "tokenFiles" (dict "read" (printf "%s/read" $paths.apiTokensDir) "admin" (printf "%s/admin" $paths.apiTokensDir)) "limits" (deepCopy $root.Values.brain.api.limits) -}}
{{- if $root.Values.brain.api.tls.enabled -}}
{{- if not $root.Values.brain.api.tls.existingSecret -}}{{- fail "brain.api.tls.existingSecret: name the Secret holding the API's certificate and key (required with brain.api.tls.enabled)" -}}{{- end -}}
{{- $_ := set $api "tls" (dict "cert" (printf "%s/tls.crt" $paths.apiTlsDir) "key" (printf "%s/tls.key" $paths.apiTlsDir)) -}}
{{- end -}}
{{- $telemetry := dict "listen" (dict "host" "0.0.0.0" "port" (int $root.Values.brain.telemetry.port)) "otlp" (dict "endpoint" $root.Values.telemetry.otlpEndpoint) -}}
{{- $config := dict "nats" $nats "redis" $redis "api" $api "telemetry" $telemetry -}}
{{- $config = mergeOverwrite $config (deepCopy $root.Values.brain.config) -}}
{{- toYaml $config -}}
{{- end -}}
