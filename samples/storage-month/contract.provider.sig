Ò„X'¢'x!application/vnd.cfr.contract+cbor¡X ŽšPÿÂ
*™voÁû˜ÙÂk×àŸÎoÏÆÂäQ´ÞÐ²öX@(í+üTG¸YH2O—„Ô5>õwâóƒèy×<Ó´=½  J	šÛ-õŸoM2¥/tPÒé„»ÅQyÆ