/** The part of the DOM (as @xmldom/xmldom implements it) that RIM parsing uses; see xml-dsig.ts for why. */
export interface XmlNode {
  readonly nodeType: number;
  readonly localName: string | null;
  readonly namespaceURI: string | null;
  readonly textContent: string | null;
  readonly childNodes: ArrayLike<XmlNode>;
  readonly parentNode: XmlNode | null;
  removeChild(child: XmlNode): XmlNode;
}

export interface XmlElement extends XmlNode {
  readonly attributes: ArrayLike<{ readonly name: string }>;
  getAttribute(name: string): string | null;
  getAttributeNS(namespace: string, localName: string): string | null;
}

export interface XmlDocument {
  readonly documentElement: XmlElement | null;
  getElementsByTagName(name: string): ArrayLike<XmlElement>;
  getElementsByTagNameNS(namespace: string, localName: string): ArrayLike<XmlElement>;
}
