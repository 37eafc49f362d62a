import { redactText } from './redact.ts';

/**
 * HTML that escapes by default, for the HTML report and the dashboard:
 * anything placed in an `html` template is text and is escaped, unless it is
 * Markup built by code. Text is redacted before it is escaped, since an
 * escaped secret no longer matches what redaction looks for.
 */

export class Markup {
  readonly text: string;
  constructor(text: string) {
    this.text = text;
  }
}

export type Content = Markup | string | number | boolean | undefined | null | Content[];

export const NOTHING = new Markup('');

export function html(strings: TemplateStringsArray, ...values: Content[]): Markup {
  return new Markup(strings.reduce((text, part, index) => text + (index > 0 ? contentText(values[index - 1]) : '') + part, ''));
}

function contentText(value: Content): string {
  if (value instanceof Markup) return value.text;
  if (Array.isArray(value)) return value.map(contentText).join('');
  if (value === undefined || value === null || value === false || value === true) return '';
  return escapeHtml(String(value));
}

export function escapeHtml(text: string): string {
  return redactText(text).replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;').replaceAll("'", '&#39;');
}
