/**
 * The error type of the template package and the interface of a parsed template.
 */

/** Raised for both parse and execution errors; messages follow Go's wording. */
export class TemplateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TemplateError';
  }
}

export interface Template {
  execute(data: unknown): string;
}
