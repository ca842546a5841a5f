import { createHmac } from 'node:crypto';
import nodemailer, { type Transporter } from 'nodemailer';
import type { ChannelConfig } from '../channel-input.js';
import type { AlertsSettings } from '../alerts-config.js';
import { htmlOf, pagerDutyOf, slackOf, subjectOf, textOf, type NotificationEvent } from '../notification-message.js';

/** Signature header of webhook deliveries: `sha256=` + hex HMAC-SHA256(secret, `${timestamp}.${body}`). */
export const SIGNATURE_HEADER = 'x-apm-signature';
export const TIMESTAMP_HEADER = 'x-apm-timestamp';

export function signBody(secret: string, timestamp: number, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/**
 * Sends one notification over one channel; throws on failure (the notifier retries with backoff).
 * Email goes through one pooled nodemailer transport (APM_ALERTS_SMTP_*); webhooks and PagerDuty are
 * JSON POSTs with fetch, each attempt bounded by APM_ALERTS_SEND_TIMEOUT_MS.
 */
export class ChannelSender {
  #mail: Transporter | undefined;

  constructor(private readonly s: AlertsSettings) {}

  async send(config: ChannelConfig, e: NotificationEvent): Promise<void> {
    if (config.type === 'email') return this.#email(config.to, e);
    if (config.type === 'webhook') {
      const body = JSON.stringify(config.format === 'slack' ? slackOf(e) : e);
      const ts = Math.floor(e.sentAt);
      return this.#post(config.url, body, { [SIGNATURE_HEADER]: signBody(config.secret, ts, body), [TIMESTAMP_HEADER]: String(ts), 'x-apm-delivery': String(e.deliveryId) });
    }
    return this.#post(this.s.pagerDutyUrl, JSON.stringify(pagerDutyOf(e, config.routingKey)), {});
  }

  async #email(to: string[], e: NotificationEvent): Promise<void> {
    const smtp = this.s.smtp;
    if (!smtp) throw new Error('cannot send email: APM_ALERTS_SMTP_HOST is not set');
    this.#mail ??= nodemailer.createTransport({
      host: smtp.host,
      port: smtp.port,
      secure: smtp.tls === 'tls',
      requireTLS: smtp.tls === 'starttls',
      ignoreTLS: smtp.tls === 'none',
      ...(smtp.user ? { auth: { user: smtp.user, pass: smtp.password ?? '' } } : {}),
      connectionTimeout: this.s.sendTimeoutMs,
      greetingTimeout: this.s.sendTimeoutMs,
      socketTimeout: this.s.sendTimeoutMs,
    });
    await this.#mail.sendMail({ from: smtp.from, to, subject: subjectOf(e), text: textOf(e), html: htmlOf(e), headers: { 'X-APM-Incident': String(e.incident.id) } });
  }

  async #post(url: string, body: string, headers: Record<string, string>): Promise<void> {
    const r = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'apm-alerts/1', ...headers },
      body,
      redirect: 'error',
      signal: AbortSignal.timeout(this.s.sendTimeoutMs),
    });
    const text = (await r.text()).slice(0, 200);
    if (r.status < 200 || r.status > 299) throw new Error(`cannot deliver to ${new URL(url).host}: HTTP ${r.status} ${text}`);
  }

  close(): void {
    this.#mail?.close();
  }
}
